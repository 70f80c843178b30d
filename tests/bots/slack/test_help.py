"""Help in Slack names what Slack takes: `/llmos …` for every command, the shortcuts, the Home tab
and the admin commands, wherever help is asked for."""

from __future__ import annotations

from bots.slack.mrkdwn import unescape
from tests.bots.slack.conftest import Running
from tests.bots.slack.test_commands import command, responses
from tests.bots.slack.test_conversations import DM, said
from tests.helpers import settle


def _help_is_slacks_own(shown: str) -> None:
    text = unescape(shown)
    assert "• /llmos summarize [n]" in text and "• /llmos prefs [set <key> <value>]" in text
    assert "• /ask" not in text and "• /prefs" not in text
    assert "shortcuts" in text and "Home tab" in text and "/llmos admin help" in text


def test_help_names_slack_commands_everywhere_it_is_asked(slack: Running, simulator) -> None:
    for asked in ("help", ""):
        _help_is_slacks_own(responses(slack, command(slack, asked), 2)[1]["text"])
    event = said(slack, "/help", channel=DM)
    assert slack.http.event(event).status_code == 200
    _help_is_slacks_own(slack.fake.answer(DM, None).text)
    shown = unescape(responses(slack, command(slack, "prefs"), 2)[1]["text"])
    assert shown.endswith("Change one with /llmos prefs set <key> <value>.")
    forgot = unescape(responses(slack, command(slack, "memories"), 2)[1]["text"])
    assert forgot == "I remember nothing about you yet. Teach me with /llmos remember <something>."
    settle(slack.stack)
