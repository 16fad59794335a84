"""The same site with a regular-expression catch-all (re_path(r"^.*$"))."""

from __future__ import annotations

from django.urls import re_path

from tests.urls import catch_all
from tests.urls import urlpatterns as _site

urlpatterns = [*_site[:-1], re_path(r"^.*$", catch_all)]
