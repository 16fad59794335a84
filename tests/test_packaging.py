from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
    requires = [
        line.split(":", 1)[1].strip()
        for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]
    assert sorted(requires) == [
        "asgiref>=3.8",
        "django!=6.0.0,!=6.0.1,!=6.0.2,!=6.0.3,>=5.2.13",
        "django-environ>=0.11",
        "netaddr>=1.0",
        "redis>=5; extra == 'redis'",
    ]


def test_every_imported_distribution_is_declared() -> None:
    imported = set()
    for source in (ROOT / "envmaintenance").rglob("*.py"):
        for line in source.read_text().splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                imported.add(words[1].split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"envmaintenance"}
    # pytest only in the optional fixture module, behind find_spec; redis only
    # for a redis:// switch, from the [redis] extra.
    assert third_party == {"django", "environ", "netaddr", "asgiref", "pytest", "redis"}


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
