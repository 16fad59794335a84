from __future__ import annotations

import pytest

from envmaintenance.paths import ExemptPaths, normalise_path, parse_exempt_path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", "/"),
        ("/healthz", "/healthz"),
        ("/static/../admin", "/admin"),
        ("/static/./css/site.css", "/static/css/site.css"),
        ("//static//css", "/static/css"),
        ("/healthz/..", "/"),
        ("/../../etc", "/etc"),
        ("/.well-known/x", "/.well-known/x"),
    ],
)
def test_normalise_path(path: str, expected: str) -> None:
    assert normalise_path(path) == expected


@pytest.mark.parametrize(
    ("entry", "stored"),
    [("/healthz", "/healthz"), ("/static/", "/static"), ("/", "/"), ("/a/b/", "/a/b")],
)
def test_parse_exempt_path_drops_the_trailing_slash(entry: str, stored: str) -> None:
    assert parse_exempt_path(entry) == stored


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("healthz", "must start with '/'"),
        ("static/", "must start with '/'"),
        ("/static/../admin", "did you mean '/admin'?"),
        ("//static", "did you mean '/static'?"),
        ("/healthz?full=1", "query or fragment"),
        ("/page#top", "query or fragment"),
    ],
)
def test_parse_exempt_path_rejects(entry: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as info:
        parse_exempt_path(entry)
    assert repr(entry) in str(info.value)


@pytest.mark.parametrize(
    ("path", "exempt"),
    [
        ("/healthz", True),
        ("/healthz/", True),
        ("/healthz/db", True),
        ("/healthzz", False),
        ("/health", False),
        ("/static/app.css", True),
        ("/static", True),
        ("/staticfoo", False),
        ("/static/../admin/", False),
        ("/static/./app.css", True),
        ("//static/app.css", True),
        ("/healthz/../admin", False),
        ("/admin", False),
        ("/", False),
    ],
)
def test_matches_whole_segments_of_the_normalised_path(path: str, exempt: bool) -> None:
    paths = ExemptPaths(["/healthz", "/static"])
    assert paths.matches(path) is exempt


def test_root_exempts_everything() -> None:
    assert ExemptPaths(["/"]).matches("/anything/at/all")


def test_empty_exempts_nothing_and_compares_by_prefixes() -> None:
    assert not ExemptPaths()
    assert not ExemptPaths().matches("/healthz")
    assert ExemptPaths(["/a", "/a"]) == ExemptPaths(["/a"])
    assert hash(ExemptPaths(["/a"])) == hash(ExemptPaths(["/a"]))
    assert ExemptPaths(["/a"]) != ["/a"]
    assert repr(ExemptPaths(["/a"])) == "ExemptPaths(['/a'])"
