"""Socket Mode: bolt's own SocketModeHandler on a WebSocket the fake's apps.connections.open hands out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from db.models import Message
from tests.bots.slack.conftest import Running, run_surface, slack_settings
from tests.bots.slack.test_conversations import ALICE, CHANNEL, DM
from tests.fixtures.fake_slack import APP_TOKEN, BOT_USER, FakeSlack
from tests.fixtures.slack_wire import command_form, envelope, shortcut
from tests.helpers import count, settle
from workers.stack import Stack


@pytest.fixture
def socket(clean_stack: Stack, fake: FakeSlack) -> Iterator[Running]:
    surface = run_surface(clean_stack, slack_settings(fake, signing_secret=None, app_token=APP_TOKEN))
    assert surface.http is None  # no signing secret: no HTTP endpoint at all
    fake.wait_for(fake.connected)
    yield Running(surface, None, fake, clean_stack)  # type: ignore[arg-type]
    surface.stop()


def test_events_arrive_over_the_socket_and_are_acknowledged(socket: Running) -> None:
    fake = socket.fake
    assert fake.calls_to("apps.connections.open")[0].token == APP_TOKEN
    ts = fake.say(CHANNEL, ALICE, f"<@{BOT_USER}> ping")
    event = {"type": "app_mention", "user": ALICE, "text": f"<@{BOT_USER}> ping", "ts": ts, "channel": CHANNEL}
    envelope_id = fake.push("events_api", envelope(event))
    fake.wait_for(lambda: envelope_id in fake.acks)
    assert fake.answer(CHANNEL, ts).markdown == "You said: ping"
    # A redelivered envelope (Slack resends what it thinks was lost) is not answered again.
    again = fake.push("events_api", envelope(event))
    fake.wait_for(lambda: again in fake.acks)
    dm_ts = fake.say(DM, ALICE, "and in private?")
    dm = {"type": "message", "channel_type": "im", "user": ALICE, "text": "and in private?", "ts": dm_ts, "channel": DM}
    fake.push("events_api", envelope(dm))
    assert fake.answer(DM, None).text == "You said: and in private?"
    settle(socket.stack)
    assert len(fake.calls_to("chat.startStream")) == 1
    assert count(socket.stack, Message) == 4


def test_commands_and_shortcuts_work_over_the_socket(socket: Running) -> None:
    fake = socket.fake
    url = fake.response_url()
    envelope_id = fake.push(
        "slash_commands",
        command_form("usage", user=ALICE, channel=CHANNEL, response_url=url),
        accepts_response_payload=True,
    )
    fake.wait_for(lambda: envelope_id in fake.acks)
    hook = url.rsplit("/", 1)[-1]
    usage = fake.wait_for(lambda: [b for h, b in fake.responses if h == hook][1:])
    assert usage[0]["text"].startswith("Today: 0 tokens")
    ts = fake.say(CHANNEL, ALICE, "Bonjour tout le monde")
    message = {"type": "message", "user": ALICE, "text": "Bonjour tout le monde", "ts": ts}
    url = fake.response_url()
    payload = shortcut("llmos_translate", user=ALICE, channel=CHANNEL, message=message, response_url=url)
    fake.push("interactive", payload, accepts_response_payload=True)
    hook = url.rsplit("/", 1)[-1]
    translated = fake.wait_for(lambda: [b for h, b in fake.responses if h == hook][1:])
    assert "Bonjour tout le monde" in translated[0]["text"]
    settle(socket.stack)


def test_start_up_problems_name_their_variable(clean_stack: Stack, fake: FakeSlack) -> None:
    from workers.settings import SettingsError

    with pytest.raises(SettingsError, match=r"SLACK_APP_TOKEN: Slack refused it \(invalid_auth\)"):
        run_surface(clean_stack, slack_settings(fake, signing_secret=None, app_token="xapp-1-wrong"))
    with pytest.raises(SettingsError, match=r"SLACK_BOT_TOKEN: Slack did not accept it"):
        run_surface(clean_stack, slack_settings(fake, bot_token="xoxb-1-revoked"))
    taken = run_surface(clean_stack, slack_settings(fake))
    assert taken.http is not None
    try:
        with pytest.raises(SettingsError, match=r"SLACK_PORT: cannot listen on 127\.0\.0\.1:"):
            run_surface(clean_stack, slack_settings(fake, port=taken.http.port))
    finally:
        taken.stop()
