"""The documentation is generated from the code's tables and names the public
API: these fail when something is added without its words."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from envmaintenance.checks import CHECKS, OTHER_CHECKS
from envmaintenance.variables import ROWS, Variable

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_MODULES = [
    "envmaintenance",
    "envmaintenance.middleware",
    "envmaintenance.context_processors",
    "envmaintenance.testing",
]


@functools.cache
def docs_extension() -> ModuleType:
    """docs/_ext/reference.py, which writes the generated pages of the site."""
    path = ROOT / "docs" / "_ext" / "reference.py"
    spec = importlib.util.spec_from_file_location("docs_reference", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_every_row_has_its_words(row: Variable) -> None:
    assert row.meaning.strip()
    assert row.example.strip()
    assert f"`{row.name}`" in row.invalid, "the check's words name its variable"


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_every_row_is_in_the_generated_reference(row: Variable) -> None:
    """A row added is a line of the configuration reference and of the list of
    check ids, with nothing else to write."""
    reference = docs_extension()
    lines = reference.variables_table().splitlines()
    (line,) = [line for line in lines if line.startswith(f"| `{row.name}` |")]
    assert reference.cell(row.meaning) in line
    assert reference.cell(row.example) in line
    assert reference.cell(row.default or reference.code_default(row.field)) in line
    checks = reference.checks_table()
    assert f"| `{row.check_id}` | error | {reference.cell(row.invalid)} |" in checks


def test_the_reference_lists_the_rows_in_order_and_nothing_else() -> None:
    lines = docs_extension().variables_table().splitlines()[2:]
    assert [line.split("`")[1] for line in lines] == [row.name for row in ROWS]


@pytest.mark.source
def test_every_check_the_package_reports_is_listed_and_described() -> None:
    source = "\n".join(
        path.read_text() for path in (ROOT / "envmaintenance").rglob("*.py")
    )
    used = set(re.findall(r"envmaintenance\.[EW]\d{3}", source))
    # Every id the code uses is listed. A row's id is written once, in its row,
    # and reported through it; any other is listed once and used elsewhere.
    assert used == set(CHECKS)
    for row in ROWS:
        assert source.count(f'"{row.check_id}"') == 1, f"{row.check_id} is reused"
    for check_id in OTHER_CHECKS:
        assert source.count(f'"{check_id}"') >= 2, f"{check_id} is listed only"
    assert all(when.strip() for when in CHECKS.values())


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_the_public_api_is_documented(module_name: str) -> None:
    module = importlib.import_module(module_name)
    api_page = (ROOT / "docs" / "api.md").read_text()
    for name in module.__all__:
        thing = getattr(module, name)
        assert (thing.__doc__ or "").strip(), f"{module_name}.{name} has no docstring"
        directive = rf"^\.\. auto\w+:: {re.escape(f'{module_name}.{name}')}$"
        assert re.search(directive, api_page, re.MULTILINE), f"{module_name}.{name}"


def test_the_readme_is_an_overview() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 350
