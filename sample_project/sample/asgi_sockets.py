"""The site with WebSockets (Django Channels), for servers that speak them:
the pages as sample/asgi.py serves them, and an echo socket at /ws/echo/ that
follows maintenance as the pages do, with Channels set up as its documentation
asks (sample/settings_sockets.py). Channels is an optional extra: sample/asgi.py,
the site's usual application, does without it.

    daphne sample.asgi_sockets:application
    uvicorn sample.asgi_sockets:application
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sample.settings_sockets")
# Django is set up before anything that may touch its settings is imported.
django_asgi_app = get_asgi_application()

from channels.routing import (  # noqa: E402
    ProtocolTypeRouter,
    URLRouter,
)
from django.urls import path  # noqa: E402

from envmaintenance.asgi import MaintenanceMiddleware  # noqa: E402
from sample.consumers import EchoConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": MaintenanceMiddleware(
            URLRouter([path("ws/echo/", EchoConsumer.as_asgi())])
        ),
    }
)
