"""What the model is given from a Slack thread or channel: LLMOS's answer to `/llmos` comes after the
question of the person who asked it, not after a line the assistant seems to have said (issue 17, item 16)."""

from __future__ import annotations

from tests.bots.slack.conftest import Running
from tests.bots.slack.test_commands import command, responses, shortcut_payload
from tests.bots.slack.test_conversations import ALICE, CHANNEL
from tests.helpers import settle


def test_a_thread_under_an_asked_header_reads_as_the_askers_question_and_the_answer(slack: Running, simulator) -> None:
    simulator.config.answer = lambda messages: "Rayleigh scattering & such."
    command(slack, "why is the sky <blue>?")
    header = slack.fake.wait_for(lambda: slack.fake.replies(CHANNEL, None))[0]
    answer = slack.fake.answer(CHANNEL, header.ts)
    settle(slack.stack)

    simulator.config.answer = lambda messages: "A summary."
    message = {"type": "message", "user": ALICE, "text": answer.text, "ts": answer.ts, "thread_ts": header.ts}
    payload = shortcut_payload(slack, "llmos_summarize_thread", message)
    assert slack.http.interaction(payload).status_code == 200
    responses(slack, payload["response_url"].rsplit("/", 1)[-1], 2)
    prompt = simulator.requests[-1].body["messages"][-1]["content"]
    assert prompt.endswith("\n\nalice: /llmos why is the sky <blue>?\nassistant: Rayleigh scattering & such.")
    settle(slack.stack)
