from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from benchmarks.variants import select

select(os.environ["BENCH_VARIANT"])
application = get_asgi_application()
