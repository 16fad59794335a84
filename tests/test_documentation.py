"""The documentation is generated from the code's tables and names the public
API: these fail when something is added without its words."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from envmaintenance.checks import CHECKS
from envmaintenance.conf import VARIABLES
from envmaintenance.reference import VARIABLE_DOCS

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_MODULES = [
    "envmaintenance",
    "envmaintenance.middleware",
    "envmaintenance.context_processors",
    "envmaintenance.testing",
]


def test_every_variable_has_a_description() -> None:
    variables = {variable for variable, _ in VARIABLES.values()}
    described = set(VARIABLE_DOCS) - {"MAINTENANCE_MESSAGE_<LANG>"}
    assert variables == described
    assert all(d.meaning.strip() and d.example.strip() for d in VARIABLE_DOCS.values())


@pytest.mark.source
def test_every_check_the_package_reports_is_listed_and_described() -> None:
    source = "\n".join(
        path.read_text() for path in (ROOT / "envmaintenance").rglob("*.py")
    )
    used = set(re.findall(r"envmaintenance\.[EW]\d{3}", source))
    # Every id the code uses is listed; every listed id is used somewhere
    # besides the list itself (the list holds each once).
    assert used == set(CHECKS)
    for check_id in CHECKS:
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
