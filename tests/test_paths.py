from __future__ import annotations

import pytest

from envmaintenance.paths import (
    PathPrefixes,
    PathScope,
    is_normal_path,
    parse_path_prefix,
)


@pytest.mark.parametrize(
    ("path", "normal"),
    [
        ("/", True),
        ("/healthz", True),
        ("/healthz/", True),
        ("/.well-known/x", True),
        ("/a.b/c..d/...", True),
        ("/static/../admin", False),
        ("/static/./css/site.css", False),
        ("//static//css", False),
        ("//healthz", False),
        ("/healthz/..", False),
        ("/healthz/.", False),
        ("/../../etc", False),
        ("/x/../healthz", False),
    ],
)
def test_is_normal_path(path: str, normal: bool) -> None:
    assert is_normal_path(path) is normal


@pytest.mark.parametrize(
    ("entry", "stored"),
    [
        ("/healthz", "/healthz"),
        ("/static/", "/static"),
        ("/", "/"),
        ("/a/b/", "/a/b"),
        ("/.well-known/", "/.well-known"),
        ("/über/", "/über"),
        ("/api/v1:status@x", "/api/v1:status@x"),
    ],
)
def test_parse_path_prefix_drops_the_trailing_slash(entry: str, stored: str) -> None:
    assert parse_path_prefix(entry) == stored


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("healthz", "must start with '/'"),
        ("static/", "must start with '/'"),
        ("/static/../admin", "did you mean '/admin'?"),
        ("//static", "did you mean '/static'?"),
        ("/./static", "did you mean '/static'?"),
    ],
)
def test_parse_path_prefix_rejects(entry: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as info:
        parse_path_prefix(entry)
    assert repr(entry) in str(info.value)


@pytest.mark.parametrize(
    "entry",
    [
        "/static/*",
        "/api/*/health",
        "/healthz?full=1",
        "/page#top",
        "/healthz$",
        "/static%2F",
        "/a%20b",
        "/tab\there",
        "/bell\x07",
        '/quote"',
        "/back\\slash",
        "/[abc]",
        "/^api",
        "/a|b",
    ],
)
def test_a_prefix_with_pattern_characters_says_how_to_write_one(entry: str) -> None:
    with pytest.raises(ValueError, match="prefixes only: /static/ covers") as info:
        parse_path_prefix(entry)
    assert str(info.value).startswith(repr(entry))


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
        ("/admin", False),
        ("/", False),
        # Routed as received, so never exempt: each reaches another view.
        ("/static/../admin/", False),
        ("/static/./app.css", False),
        ("//static/app.css", False),
        ("/healthz/../admin", False),
        ("/healthz/..", False),
        ("/x/../healthz", False),
        ("/pages/a/../../healthz", False),
        ("//healthz", False),
        ("/./healthz", False),
        ("/healthz//x", False),
    ],
)
def test_matches_whole_segments_of_a_normal_path(path: str, exempt: bool) -> None:
    paths = PathPrefixes(["/healthz", "/static"])
    assert paths.matches(path) is exempt


def test_root_exempts_every_normal_path() -> None:
    assert PathPrefixes(["/"]).matches("/anything/at/all")
    assert not PathPrefixes(["/"]).matches("/anything/../at/all")


def test_empty_exempts_nothing_and_compares_by_prefixes() -> None:
    assert not PathPrefixes()
    assert not PathPrefixes().matches("/healthz")
    assert PathPrefixes(["/a", "/a"]) == PathPrefixes(["/a"])
    assert hash(PathPrefixes(["/a"])) == hash(PathPrefixes(["/a"]))
    assert PathPrefixes(["/a"]) != ["/a"]
    assert repr(PathPrefixes(["/a"])) == "PathPrefixes(['/a'])"


@pytest.mark.parametrize(
    ("path", "inside"),
    [
        ("/checkout", True),
        ("/checkout/", True),
        ("/checkout/pay", True),
        ("/checkoutX", True),  # a scope fails closed: no boundary unless marked
        ("/api/payments.json", True),
        ("/api/payments;jsessionid=1", True),
        ("/api/paymentsX", True),
        ("/api", True),  # /api/ covers /api itself
        ("/api/x", True),
        ("/apiary", False),
        ("/de/checkout/", True),  # a language prefix the site routes
        ("/pt-BR/checkout/", True),
        ("/DE/api", True),
        ("/de/apiary", False),
        ("/nl/checkout/", False),  # not a language of the site
        ("/de", False),
        ("/", False),
        ("/cart", False),
        ("/x/../checkout", True),  # not normal: may reach any view
        ("//checkout", True),
    ],
)
def test_a_scope_covers_every_path_that_starts_with_a_prefix(
    path: str, inside: bool
) -> None:
    scope = PathScope(["/checkout", "/api/payments", "/api/"])
    assert scope.covers(path, frozenset({"de", "pt-br"})) is inside


def test_a_scope_without_languages_judges_the_path_as_it_is() -> None:
    scope = PathScope(["/checkout"])
    assert not scope.covers("/de/checkout/")
    assert scope.covers("/de/checkout/", frozenset({"de"}))
    assert scope == PathScope(["/checkout", "/checkout"])
    assert repr(scope) == "PathScope(['/checkout'])"
    assert not PathScope()
    assert PathScope(["/"]).covers("/anything")
