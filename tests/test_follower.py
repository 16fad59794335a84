"""The rules of the revisioned switch, read by read: what a process concludes
from the store's answer, given what it (or its cache, or the fleet) saw before."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from envmaintenance.cache import Cached
from envmaintenance.conf import load_config
from envmaintenance.follower import Follower, Outcome
from envmaintenance.state import State

NOW = 1_800_000_000.0
ENVIRONMENT = load_config({}).environment  # maintenance off


def doc(revision: int, mode: int = 1) -> str:
    return f"REVISION={revision}\nMAINTENANCE_MODE={mode}\nSET_BY=alice\n"


def no_fleet() -> int | None:
    return None


def fleet_at(revision: int) -> Callable[[], int | None]:
    return lambda: revision


def follower(
    unreadable: str = "environment", environment: State = ENVIRONMENT
) -> Follower:
    return Follower(environment, unreadable)


def test_a_higher_revision_is_applied_and_the_same_one_changes_nothing() -> None:
    process = follower()
    assert process.follow(doc(1), NOW, no_fleet) is Outcome.APPLIED
    assert (process.state.revision, process.state.enabled) == (1, True)
    assert process.read_at == NOW
    assert process.follow(doc(1), NOW + 2, no_fleet) is Outcome.UNCHANGED
    assert process.read_at == NOW  # when the revision was first read
    assert process.follow(doc(2, mode=0), NOW + 4, no_fleet) is Outcome.APPLIED
    assert not process.state.enabled


def test_a_document_lost_after_a_revision_was_seen_is_kept() -> None:
    process = follower()
    process.follow(doc(3), NOW, no_fleet)
    assert process.follow(None, NOW + 2, no_fleet) is Outcome.KEPT
    assert process.state.enabled
    assert process.state.revision == 3
    assert process.trouble is not None
    assert "lost the document" in process.trouble
    assert "keeps revision 3" in process.trouble
    assert process.follow(doc(4, mode=0), NOW + 4, no_fleet) is Outcome.APPLIED
    assert process.trouble is None


def test_a_store_gone_back_in_time_is_not_followed() -> None:
    process = follower()
    process.follow(doc(5), NOW, no_fleet)
    assert process.follow(doc(3, mode=0), NOW + 2, no_fleet) is Outcome.KEPT
    assert process.state.enabled
    assert process.state.revision == 5
    assert "went back to revision 3" in (process.trouble or "")
    assert process.follow(doc(6, mode=0), NOW + 4, no_fleet) is Outcome.APPLIED
    assert not process.state.enabled


def test_documents_without_a_revision_are_followed_as_written() -> None:
    """Hand-written or a ConfigMap: no order to keep, the text decides."""
    process = follower()
    assert process.follow("MAINTENANCE_MODE=1\n", NOW, no_fleet) is Outcome.APPLIED
    assert process.follow("MAINTENANCE_MODE=0\n", NOW, no_fleet) is Outcome.APPLIED
    assert process.follow(None, NOW, no_fleet) is Outcome.APPLIED  # deleted: env
    assert process.state is ENVIRONMENT
    assert process.trouble is None


def test_a_document_that_does_not_parse_is_rejected_and_changes_nothing() -> None:
    process = follower()
    process.follow(doc(2), NOW, no_fleet)
    bad = "REVISION=3\nMAINTENANCE_MODE=maybe\n"
    assert process.follow(bad, NOW + 2, no_fleet) is Outcome.REJECTED
    assert process.state.revision == 2
    assert process.state.enabled
    assert process.rejected is not None
    assert process.rejected.revision == 3
    assert "MAINTENANCE_MODE: 'maybe' is not a switch" in process.rejected.error
    assert process.follow(doc(4, mode=0), NOW + 4, no_fleet) is Outcome.APPLIED
    assert process.rejected is None  # a later revision answers the refusal


def test_a_process_starts_from_its_cache_and_keeps_it_over_an_older_store() -> None:
    process = follower()
    assert process.start_from(Cached(doc(4), 4, NOW - 90))
    assert process.state.enabled
    assert process.read_at == NOW - 90
    assert process.follow(None, NOW, no_fleet) is Outcome.KEPT  # flushed
    assert process.follow(doc(3, mode=0), NOW, no_fleet) is Outcome.KEPT  # back
    assert process.state.enabled
    assert process.follow(doc(5, mode=0), NOW, no_fleet) is Outcome.APPLIED


def test_a_cache_that_no_longer_parses_is_no_cache() -> None:
    process = follower()
    assert not process.start_from(Cached("REVISION=4\nMAINTENANCE_MODE=?\n", 4, NOW))
    assert process.state is ENVIRONMENT


@pytest.mark.parametrize(
    ("unreadable", "enabled"), [("environment", False), ("on", True)]
)
def test_without_revision_or_cache_a_lost_document_means_the_fallback(
    unreadable: str, enabled: bool
) -> None:
    """A process that started after the store came back empty learns from the
    fleet that a revision was written: it takes MAINTENANCE_SWITCH_UNREADABLE."""
    process = follower(unreadable)
    process.follow(None, NOW, fleet_at(7))
    assert process.state.enabled is enabled
    assert "revision 7 was written" in (process.trouble or "")
    # Members that report again later are heard for a few reads.
    late = follower(unreadable)
    late.follow(None, NOW, fleet_at(0))
    assert late.trouble is None
    late.follow(None, NOW + 2, fleet_at(7))
    assert late.state.enabled is enabled


def test_a_store_never_written_leaves_the_environment_in_charge() -> None:
    on = load_config({"MAINTENANCE_MODE": "1"}).environment
    process = follower(environment=on)
    assert process.follow(None, NOW, no_fleet) is Outcome.UNCHANGED
    assert process.state is on
    assert process.trouble is None


@pytest.mark.parametrize(
    ("unreadable", "enabled"), [("environment", False), ("on", True)]
)
def test_a_store_unreadable_at_start_up_without_a_cache_means_the_fallback(
    unreadable: str, enabled: bool
) -> None:
    process = follower(unreadable)
    process.failed("down", NOW, starting=True)
    assert process.state.enabled is enabled
    assert process.trouble == "down"
    assert process.follow(doc(1, mode=0), NOW, no_fleet) is Outcome.APPLIED
    assert not process.state.enabled


def test_a_store_unreadable_later_keeps_what_the_process_holds() -> None:
    process = follower("on")
    process.follow(doc(2, mode=0), NOW, no_fleet)
    assert process.failed("down", NOW, starting=False) == "revision 2"
    assert not process.state.enabled  # never the fallback once it holds one


def test_reading_the_good_document_again_ends_a_rejection() -> None:
    """An editor rewrote the file in place: a read landed on the empty file,
    the next reads the whole document again. The refusal is over."""
    process = follower()
    process.follow(doc(2), NOW, no_fleet)
    assert process.follow("", NOW + 2, no_fleet) is Outcome.REJECTED
    assert process.rejected is not None
    assert process.follow(doc(2), NOW + 4, no_fleet) is Outcome.UNCHANGED
    assert process.rejected is None
