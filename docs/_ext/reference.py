"""Writes the configuration reference and the list of check ids from the
package's own tables before each build, so the documentation cannot drift from
the code: docs/_generated/variables.md and checks.md, included by
configuration.md."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

from envmaintenance.checks import CHECKS
from envmaintenance.conf import VARIABLES, Config
from envmaintenance.reference import VARIABLE_DOCS
from envmaintenance.schedule import State


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
    names = {variable: field for field, (variable, _) in VARIABLES.items()}
    for variable, documented in VARIABLE_DOCS.items():
        default = documented.default or code_default(names[variable])
        rows.append(
            f"| `{variable}` | {cell(documented.meaning)} | {cell(default)} "
            f"| {cell(documented.example)} |"
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
