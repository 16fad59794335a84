from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from benchmarks.variants import select

select(os.environ["BENCH_VARIANT"])
application = get_wsgi_application()
