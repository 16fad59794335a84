from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from benchmarks.variants import VARIANTS

VARIANTS[os.environ["BENCH_VARIANT"]].apply_environment()
os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.project.settings"
application = get_wsgi_application()
