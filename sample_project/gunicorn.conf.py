"""One gunicorn configuration for the container, `make demo` and the e2e tests."""

from __future__ import annotations

import os
from pathlib import Path

chdir = str(Path(__file__).resolve().parent)
wsgi_app = "sample.wsgi"
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = "-"
# A health check or a 503 should never wait on a slow client for long.
timeout = 30
graceful_timeout = 10
