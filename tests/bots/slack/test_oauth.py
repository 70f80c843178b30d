"""Many workspaces: OAuth install into LLMOS's own database, tokens sealed, each workspace a tenant."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from bots.slack.oauth import TokenCipher
from db.models import ProcessedEvent, SlackBot, SlackInstallation, SlackOAuthState, Tenant
from tests.bots.slack.conftest import Running, run_surface, slack_settings
from tests.bots.slack.test_conversations import ALICE, CHANNEL
from tests.fixtures.fake_slack import BOT_USER, CLIENT_ID, CLIENT_SECRET, FakeSlack
from tests.fixtures.slack_wire import SlackHttp
from tests.helpers import count, settle
from workers.stack import Stack

KEY = Fernet.generate_key().decode()


@pytest.fixture
def multi(clean_stack: Stack, fake: FakeSlack) -> Iterator[Running]:
    settings = slack_settings(fake, bot_token=None, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_key=KEY)
    surface = run_surface(clean_stack, settings)
    assert surface.http is not None
    http = SlackHttp(surface.http.url)
    yield Running(surface, http, fake, clean_stack)
    http.close()
    surface.stop()


def install(run: Running, *, state: str | None = None) -> httpx.Response:
    assert run.surface.http is not None
    base = run.surface.http.url.removesuffix("/slack/events")
    with httpx.Client(base_url=base, timeout=10) as browser:
        page = browser.get("/slack/install")
        assert page.status_code == 200
        link = re.search(r'href="(https://slack.com/oauth/[^"]+)"', page.text)
        assert link and link.group(1).startswith("https://slack.com/oauth/v2/authorize?state=")
        issued = re.search(r"state=([\w-]+)", link.group(1))
        assert issued
        # The state cookie is Secure (Slack redirects over https); a browser on http would drop it.
        cookie = page.headers["set-cookie"].split(";", 1)[0]
        params = {"code": "c0de", "state": state or issued.group(1)}
        return browser.get("/slack/oauth_redirect", params=params, headers={"Cookie": cookie})


def test_install_stores_sealed_tokens_and_the_workspace_answers(multi: Running) -> None:
    done = install(multi)
    assert done.status_code == 200 and "Thank you!" in done.text
    installed = next(t for t in multi.fake.tokens if "installed" in t)
    with multi.stack.sessions() as session:
        bot = session.scalars(select(SlackBot)).one()
        assert bot.team_id == "T0INSTALL1" and bot.bot_token and bot.bot_token.startswith("fernet:")
        assert installed not in (bot.bot_token, session.scalars(select(SlackInstallation.bot_token)).one())
        assert session.scalars(select(SlackOAuthState)).all() == []  # the state was used up
        tenant = session.scalars(select(Tenant)).one()
        assert (tenant.platform, tenant.external_id, tenant.name) == ("slack", "T0INSTALL1", "Installed 1")

    ts = multi.fake.say(CHANNEL, ALICE, f"<@{BOT_USER}> hi")
    event = {"type": "app_mention", "user": ALICE, "text": f"<@{BOT_USER}> hi", "ts": ts, "channel": CHANNEL}
    assert multi.http.event(event, team="T0INSTALL1").status_code == 200
    multi.fake.answer(CHANNEL, ts)
    settle(multi.stack)
    stream_calls = [c for c in multi.fake.calls if c.method.startswith("chat.")]
    assert stream_calls and all(c.token == installed for c in stream_calls)


def test_uninstalling_removes_the_workspace_tokens(multi: Running) -> None:
    assert install(multi).status_code == 200
    assert multi.http.event({"type": "app_uninstalled"}, team="T0INSTALL1").status_code == 200

    def left() -> list[object]:
        with multi.stack.sessions() as session:
            return [*session.scalars(select(SlackBot)), *session.scalars(select(SlackInstallation))]

    multi.fake.wait_for(lambda: not left())


def test_an_install_with_a_forged_state_is_refused(multi: Running) -> None:
    done = install(multi, state="forged-state")
    assert done.status_code == 400
    assert multi.fake.calls_to("oauth.v2.access") == []
    with multi.stack.sessions() as session:
        assert session.scalars(select(SlackBot)).all() == []


def test_an_event_from_a_workspace_that_never_installed_is_not_answered(multi: Running) -> None:
    ts = multi.fake.say(CHANNEL, ALICE, f"<@{BOT_USER}> hi")
    event = {"type": "app_mention", "user": ALICE, "text": f"<@{BOT_USER}> hi", "ts": ts, "channel": CHANNEL}
    # Bolt acknowledges (so Slack does not retry) and logs that no installation was found.
    assert multi.http.event(event, team="T0STRANGER").status_code == 200
    assert count(multi.stack, ProcessedEvent) == 0
    assert multi.fake.calls_to("chat.startStream") == []


def test_tokens_are_sealed_with_rotating_keys() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = TokenCipher(old).seal("xoxb-1-secret")
    assert sealed and sealed.startswith("fernet:") and "xoxb" not in sealed
    rotated = TokenCipher(f"{new},{old}")
    assert rotated.open(sealed) == "xoxb-1-secret"
    assert TokenCipher(new).open(sealed) is None  # a replaced (not rotated) key opens nothing
    assert rotated.seal(sealed) == sealed  # never sealed twice
