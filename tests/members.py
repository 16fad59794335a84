"""Members of a switch's fleet, as the tests write them: real reports through
the package's own Reporter, or forged ones where a test needs a lie."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from envmaintenance.fleet import Reporter
from envmaintenance.stores import Member, Store

NOW = 1_800_000_000.0


def report_fields(**changes: Any) -> dict[str, Any]:
    """What a switch reports (Switch.report_fields), for a healthy process."""
    fields: dict[str, Any] = {
        "revision": 0,
        "rejected_revision": None,
        "rejected_error": None,
        "state": "off",
        "read_only": False,
        "source": "environment",
        "in_flight": 0,
        "last_read_at": NOW - 1,
        "trouble": None,
        "reported_at": NOW - 1,
        "interval": 2,
    }
    fields.update(changes)
    return fields


def add_member(store: Store, **changes: Any) -> Reporter:
    """A process of the fleet that reports once, as the reader would."""
    reporter = Reporter(store.members)
    reporter.report(report_fields(**changes))
    return reporter


def forge(store: Store, data: bytes | dict[str, Any], *, pid: int = 4242) -> str:
    """A report nobody's Reporter wrote, raw bytes or fields as JSON, stored
    under the id it claims where it claims a valid one."""
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    try:
        claimed = json.loads(raw).get("id")
    except (ValueError, AttributeError):
        claimed = None
    valid = isinstance(claimed, str) and re.fullmatch(r"[0-9a-f]{16}", claimed)
    member = Member(claimed if valid else secrets.token_hex(8), "forged~host", pid, 1)
    store.members.report(member, 0, raw)
    return member.id
