"""The sample's settings for sample/asgi_sockets.py, set up as Channels asks:
daphne first in INSTALLED_APPS (its runserver then serves WebSockets too)."""

from __future__ import annotations

from sample.settings import *  # noqa: F403
from sample.settings import INSTALLED_APPS

INSTALLED_APPS = ["daphne", *INSTALLED_APPS]
ASGI_APPLICATION = "sample.asgi_sockets.application"
