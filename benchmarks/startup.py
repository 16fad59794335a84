"""What the middleware's start-up costs, in a new process.

``python -m benchmarks.startup VARIANT`` prints, as JSON, the CPU seconds of the
middleware's first construction under the variant (its configuration parsed,
every answer rendered in every language the site serves, catalogs loaded) and
the process's peak resident memory after it, in bytes.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from benchmarks.variants import select


def main() -> None:
    select(sys.argv[1])
    import django

    django.setup()
    from django.http import HttpResponse

    from envmaintenance.middleware import MaintenanceMiddleware

    started = time.process_time()
    MaintenanceMiddleware(lambda request: HttpResponse())
    seconds = time.process_time() - started
    peak_kilobytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: KiB
    print(json.dumps({"seconds": seconds, "peak_bytes": peak_kilobytes * 1024}))


if __name__ == "__main__":
    main()
