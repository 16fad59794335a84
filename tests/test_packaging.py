"""The wheel and the sdist as built: their contents and their metadata."""

from __future__ import annotations

import email
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import envmaintenance

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# They build the package from the checkout's sources.
pytestmark = pytest.mark.source


def test_wheel_holds_only_the_package(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        timeout=120,
    )
    (wheel,) = tmp_path.glob("django_envmaintenance-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"envmaintenance"}
    assert "envmaintenance/py.typed" in names
    assert "envmaintenance/templates/envmaintenance/maintenance.html" in names
    # The compiled catalogs: Django reads the .mo files, never the .po.
    compiled = {name for name in names if name.endswith("/LC_MESSAGES/django.mo")}
    assert len(compiled) == 10
    assert "envmaintenance/locale/zh_Hans/LC_MESSAGES/django.mo" in compiled
    assert not [name for name in names if "__pycache__" in name or "/tests/" in name]
    metadata = next(n for n in names if n.endswith("METADATA"))
    assert_metadata(zipfile.ZipFile(wheel).read(metadata).decode())


def comparable(requirement: Requirement) -> tuple[str, str, str]:
    return (
        canonicalize_name(requirement.name),
        str(requirement.specifier),
        str(requirement.marker),
    )


def assert_metadata(text: str) -> None:
    """What an index shows: the one version, pyproject's requirements, the
    links, the maintainers, the README."""
    fields = email.message_from_string(text)
    assert fields["Version"] == envmaintenance.__version__
    declared = [
        *map(Requirement, PROJECT["dependencies"]),
        *(
            Requirement(f"{r}; extra == {extra!r}")
            for extra, requirements in PROJECT["optional-dependencies"].items()
            for r in requirements
        ),
    ]
    written = map(Requirement, fields.get_all("Requires-Dist", []))
    assert {comparable(r) for r in written} == {comparable(r) for r in declared}
    urls = dict(u.split(", ", 1) for u in fields.get_all("Project-URL", []))
    assert set(urls) == {"Documentation", "Changelog", "Source", "Issues"}
    assert "envmaintenance maintainers" in fields["Maintainer"]
    assert "Framework :: Django :: 6.1" in fields.get_all("Classifier", [])
    assert fields["Description-Content-Type"] == "text/markdown"
    assert "## Quick start" in fields.get_payload()


def test_every_imported_distribution_is_declared() -> None:
    imported = set()
    for source in (ROOT / "envmaintenance").rglob("*.py"):
        for line in source.read_text().splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                imported.add(words[1].split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"envmaintenance"}
    # pytest only in the optional fixture module, behind find_spec; redis only
    # for a redis:// switch, from the [redis] extra; celery (and its kombu) only
    # in envmaintenance.celery, from the [celery] extra.
    assert third_party == {
        "django",
        "environ",
        "netaddr",
        "asgiref",
        "pytest",
        "redis",
        "celery",
        "kombu",
    }


def test_sdist_holds_the_package_and_its_documents(tmp_path: Path) -> None:
    build = (
        "import sys; from hatchling.build import build_sdist; "
        "print(build_sdist(sys.argv[1]))"
    )
    name = subprocess.run(
        [sys.executable, "-c", build, str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.strip()
    with tarfile.open(tmp_path / name) as sdist:
        names = {
            member.split("/", 1)[1] for member in sdist.getnames() if "/" in member
        }
    top_level = {n.split("/")[0] for n in names}
    assert top_level == {
        "envmaintenance",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "pyproject.toml",
        "PKG-INFO",
        ".gitignore",  # hatchling always ships the VCS ignore file
    }
    assert "envmaintenance/templates/envmaintenance/maintenance.html" in names
    assert not [n for n in names if "__pycache__" in n]
    with tarfile.open(tmp_path / name) as sdist:
        (info,) = (m for m in sdist.getmembers() if m.name.endswith("/PKG-INFO"))
        extracted = sdist.extractfile(info)
        assert extracted is not None
        assert_metadata(extracted.read().decode())
