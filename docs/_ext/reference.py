"""Writes the configuration reference and the list of check ids from the
package's own tables before each build, so the documentation cannot drift from
the code: docs/_generated/variables.md (one line per row of
envmaintenance.variables) and checks.md (envmaintenance.checks.CHECKS), included
by configuration.md."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envmaintenance.checks import CHECKS
from envmaintenance.conf import Config
from envmaintenance.state import State
from envmaintenance.variables import ROWS

if TYPE_CHECKING:  # the tables are built without Sphinx too (the tests do)
    from sphinx.application import Sphinx


def code_default(field_name: str) -> str:
    """The default of a Config or State field, as a reader would write it."""
    fields = {
        f.name: f for f in (*dataclasses.fields(Config), *dataclasses.fields(State))
    }
    field = fields[field_name]
    value = field.default
    if value is False:
        return "off"
    if value is None or value is dataclasses.MISSING:
        return "none"
    return f'"{value}"' if " " in str(value) else f"`{value}`"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def variables_table() -> str:
    rows = ["| variable | meaning | default | example |", "|---|---|---|---|"]
    for row in ROWS:
        default = row.default or code_default(row.field)
        rows.append(
            f"| `{row.name}` | {cell(row.meaning)} | {cell(default)} "
            f"| {cell(row.example)} |"
        )
    return "\n".join(rows) + "\n"


def checks_table() -> str:
    rows = ["| id | level | when |", "|---|---|---|"]
    for check_id, when in CHECKS.items():
        level = "error" if check_id.split(".")[1].startswith("E") else "warning"
        rows.append(f"| `{check_id}` | {level} | {cell(when)} |")
    return "\n".join(rows) + "\n"


def write_reference(app: Sphinx) -> None:
    generated = Path(app.srcdir) / "_generated"
    generated.mkdir(exist_ok=True)
    for name, text in (
        ("variables.md", variables_table()),
        ("checks.md", checks_table()),
    ):
        path = generated / name
        if not path.exists() or path.read_text() != text:  # no rebuild for nothing
            path.write_text(text)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", write_reference)
    return {"parallel_read_safe": True}
