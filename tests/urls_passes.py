"""The test site with envmaintenance.urls included, as the docs tell."""

from __future__ import annotations

from django.urls import include, path

from tests.urls import urlpatterns as site

urlpatterns = [path("maintenance/", include("envmaintenance.urls")), *site]
