"""Sphinx configuration: the documentation site (make docs)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path[:0] = [str(DOCS.parent), str(DOCS / "_ext")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from envmaintenance import __version__  # noqa: E402

project = "django-envmaintenance"
author = "envmaintenance maintainers"
copyright = f"2026, {author}"
release = version = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "reference"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "_generated"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
suppress_warnings = ["myst.header"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_preserve_defaults = True
# Our own references must resolve; Django's and Python's are not linked (the
# build reaches no other site), so they are not checked.
nitpicky = True
nitpick_ignore_regex = [(r"py:.*", r"(?!envmaintenance\b).*")]
# Internal types a public class's fields are annotated with: not part of the API.
nitpick_ignore = [
    ("py:class", "envmaintenance.paths.PathScope"),
    ("py:class", "envmaintenance.hosts.HostScope"),
    ("py:class", "envmaintenance.passes.Revocations"),
    ("py:class", "envmaintenance.guards.F"),
]

html_theme = "furo"
html_title = f"django-envmaintenance {release}"
