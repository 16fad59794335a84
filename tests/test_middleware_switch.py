"""The middleware, templates and workers following a file switch, in real Django."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.loader import get_template
from django.test import AsyncClient, AsyncRequestFactory, Client, RequestFactory

import envmaintenance
from envmaintenance.conf import Config
from envmaintenance.context_processors import maintenance as maintenance_context
from envmaintenance.languages import served_languages
from envmaintenance.middleware import MaintenanceMiddleware
from envmaintenance.responses import render_page
from envmaintenance.state import State
from envmaintenance.switch import get_switch
from tests.conftest import SetEnv, SetNow
from tests.processes import ROOT, child_environment

NOW = 1_800_000_000.0  # 2027-01-15


@pytest.fixture
def switch_file(
    tmp_path: Path,
    maintenance_env: SetEnv,
    frozen_clock: SetNow,
    no_reader: None,
) -> Callable[[str | None], None]:
    """A file switch; calling it writes (or deletes) the document, moves the
    clock an interval on and reads it, as the reader's next tick would. The
    reader thread itself is kept from running: these tests drive its ticks."""
    path = tmp_path / "switch"
    maintenance_env(switch_url=f"file://{path}", allowed_ips="192.0.2.1")
    now = [NOW]
    frozen_clock(NOW)

    def write(text: str | None) -> None:
        if text is None:
            path.unlink()
        else:
            path.write_text(text)
        now[0] += 2
        frozen_clock(now[0])
        # In a thread of its own, as the reader reads.
        reader = threading.Thread(target=get_switch().refresh, args=(now[0],))
        reader.start()
        reader.join()

    return write


def test_with_a_switch_the_middleware_stays_even_when_off(
    switch_file: Callable[[str | None], None],
) -> None:
    middleware_ = MaintenanceMiddleware(lambda request: HttpResponse("up"))
    assert middleware_(RequestFactory().get("/")).status_code == 200


def test_on_off_and_back_to_the_environment(
    switch_file: Callable[[str | None], None], client: Client
) -> None:
    assert client.get("/").status_code == 200
    switch_file("MAINTENANCE_MODE=1\nMAINTENANCE_MESSAGE=Switched\n")
    response = client.get("/", HTTP_ACCEPT="application/json")
    assert response.status_code == 503
    assert json.loads(response.content)["detail"] == "Switched"
    switch_file("MAINTENANCE_MODE=0\n")
    assert client.get("/").status_code == 200
    switch_file(None)
    assert client.get("/").status_code == 200


def test_the_switch_overrides_an_environment_that_says_on(
    switch_file: Callable[[str | None], None],
    maintenance_env: SetEnv,
    client: Client,
) -> None:
    maintenance_env(mode="1")
    assert client.get("/").status_code == 503
    switch_file("MAINTENANCE_MODE=off\nSET_BY=ops\n")
    assert client.get("/").status_code == 200


def test_an_end_from_the_switch_drives_retry_after(
    switch_file: Callable[[str | None], None], client: Client
) -> None:
    ends = datetime.fromtimestamp(NOW + 2 + 1200, timezone.utc).isoformat()
    switch_file(f"MAINTENANCE_MODE=1\nMAINTENANCE_ENDS_AT={ends}\n")
    response = client.get("/")
    assert response["Retry-After"] == "1200"
    assert b"2027" in response.content


def test_the_allowlist_still_applies_under_the_switch(
    switch_file: Callable[[str | None], None], client: Client
) -> None:
    switch_file("MAINTENANCE_MODE=1\n")
    assert client.get("/", REMOTE_ADDR="192.0.2.1").status_code == 200
    assert client.get("/", REMOTE_ADDR="192.0.2.2").status_code == 503


@pytest.mark.parametrize("asgi", [False, True])
def test_pages_let_in_under_the_switch_stay_private(
    switch_file: Callable[[str | None], None], asgi: bool
) -> None:
    """No shared cache may replay to everyone a page only the allowlist sees."""
    switch_file("MAINTENANCE_MODE=1\n")
    if asgi:

        async def view(request: HttpRequest) -> HttpResponse:
            return HttpResponse("up")

        request = AsyncRequestFactory().get("/")
        request.META["REMOTE_ADDR"] = "192.0.2.1"
        middleware = MaintenanceMiddleware(view)
        response: HttpResponseBase = async_to_sync(middleware.__acall__)(request)
    else:
        response = Client().get("/", REMOTE_ADDR="192.0.2.1")
    assert response.status_code == 200
    assert "private" in response["Cache-Control"]
    switch_file("MAINTENANCE_MODE=0\n")
    assert "Cache-Control" not in Client().get("/", REMOTE_ADDR="192.0.2.1")


def test_the_page_is_rendered_once_per_change_not_per_request(
    switch_file: Callable[[str | None], None],
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    renders: list[str] = []

    def counting(config: Config, state: State, language: str, **options: bool) -> str:
        renders.append(state.message)
        return render_page(config, state, language, **options)

    monkeypatch.setattr("envmaintenance.responses.render_page", counting)
    client.get("/")  # the chain starts: the environment's state (off) renders none
    switch_file("MAINTENANCE_MODE=1\nMAINTENANCE_MESSAGE=First\n")
    for _ in range(20):
        assert b"First" in client.get("/").content
    switch_file("MAINTENANCE_MODE=1\nMAINTENANCE_MESSAGE=Second\n")
    for _ in range(20):
        assert b"Second" in client.get("/").content
    # Once per language served, for each of the two states that stop requests.
    languages = len(served_languages(Config()).codes)
    assert [renders.count(text) for text in ("First", "Second")] == [languages] * 2
    assert len(renders) == 2 * languages


async def test_the_switch_under_asgi(
    switch_file: Callable[[str | None], None],
    async_client: AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    renders: list[int] = []

    def recording(config: Config, state: State, language: str, **options: bool) -> str:
        renders.append(threading.get_ident())
        return render_page(config, state, language, **options)

    assert (await async_client.get("/async")).status_code == 200
    monkeypatch.setattr("envmaintenance.responses.render_page", recording)
    switch_file("MAINTENANCE_MODE=1\n")
    assert (await async_client.get("/async")).status_code == 503
    # The pages of the new state were rendered, and not on the event loop.
    assert renders
    assert threading.get_ident() not in renders


def test_is_active_answers_what_the_middleware_does(
    switch_file: Callable[[str | None], None], client: Client
) -> None:
    assert envmaintenance.is_active() is False
    switch_file("MAINTENANCE_MODE=1\nSET_BY=alice\n")
    assert envmaintenance.is_active() is True
    assert client.get("/").status_code == 503
    state = envmaintenance.current_state()
    assert (state.active, state.source) == (True, "switch")


def test_is_active_follows_the_environment_and_its_window(
    maintenance_env: SetEnv, frozen_clock: SetNow
) -> None:
    start = datetime(2026, 12, 1, 22, tzinfo=timezone.utc)
    end = datetime(2026, 12, 1, 23, tzinfo=timezone.utc)
    maintenance_env(starts_at=start.isoformat(), ends_at=end.isoformat())
    frozen_clock(start)
    assert envmaintenance.is_active() is True
    assert envmaintenance.current_state().source == "environment"
    frozen_clock(end)
    assert envmaintenance.is_active() is False


def test_the_banner_follows_the_switch(
    switch_file: Callable[[str | None], None],
) -> None:
    banner = get_template("envmaintenance/banner.html")
    request = RequestFactory().get("/")
    assert banner.render(maintenance_context(request)).strip() == ""
    switch_file("MAINTENANCE_MODE=1\n")
    assert "Maintenance is in progress" in banner.render(maintenance_context(request))


def test_nothing_extra_is_imported_without_a_switch() -> None:
    probe = (
        "import sys, django; django.setup();"
        "from django.test import Client;"
        "import envmaintenance; envmaintenance.is_active();"
        "Client().get('/');"
        "print('redis' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=child_environment(DJANGO_SETTINGS_MODULE="tests.settings"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "False"


def test_the_switch_message_leaves_the_environment_variants(
    switch_file: Callable[[str | None], None],
    maintenance_env: SetEnv,
    client: Client,
) -> None:
    maintenance_env(message="Planned.", message_de="Geplant.")
    switch_file("MAINTENANCE_MODE=1\nMAINTENANCE_MESSAGE=Database upgrade.\n")

    def text_for(language: str) -> str:
        headers = {"accept": "text/plain", "accept-language": language}
        return client.get("/", headers=headers).content.decode().strip()

    assert text_for("en") == "Database upgrade."
    assert text_for("fr") == "Database upgrade."
    assert text_for("de") == "Geplant."
