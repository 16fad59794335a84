from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from benchmarks.variants import VARIANTS

VARIANTS[os.environ["BENCH_VARIANT"]].apply_environment()
os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.project.settings"
application = get_asgi_application()
