"""Stopping an answer in the terminal: Ctrl-C while it streams, or `/stop` from another terminal."""

from __future__ import annotations

import io
import threading
import time

from bots.terminal import TerminalChat
from tests.helpers import disconnected, messages, settle
from workers.stack import Stack

LONG = " ".join(f"word{i}" for i in range(400))


def terminal(stack: Stack, *, user: str = "alice", out: io.StringIO | None = None) -> tuple[TerminalChat, io.StringIO]:
    err = io.StringIO()
    chat = TerminalChat(
        sessions=stack.sessions,
        bus=stack.bus,
        enqueue=stack.enqueue,
        user=user,
        thread="t1",
        out=out or io.StringIO(),
        err=err,
        reply_timeout=30,
        leases=stack.leases,
    )
    return chat, err


class InterruptedOnce(io.StringIO):
    """A terminal whose person presses Ctrl-C as the first words of the answer appear."""

    def __init__(self) -> None:
        super().__init__()
        self.pressed = False

    def write(self, text: str) -> int:
        if not self.pressed and text.startswith("word1"):
            self.pressed = True
            raise KeyboardInterrupt
        return super().write(text)


def test_ctrl_c_stops_the_answer_and_shows_what_was_said(clean_stack: Stack, simulator) -> None:
    simulator.config.answer = lambda msgs: LONG
    simulator.config.inter_token = 0.02
    out = InterruptedOnce()
    chat, err = terminal(clean_stack, out=out)
    assert chat.ask("count for me") == 0
    assert out.pressed and "[stopping the answer]" in err.getvalue()
    assert out.getvalue().startswith("word0 ") and out.getvalue().endswith("_(Stopped.)_\n")
    settle(clean_stack)
    stored = messages(clean_stack, "assistant")[0]
    assert stored.stopped and len(stored.content) < len(LONG)
    assert disconnected(simulator)


def test_slash_stop_stops_this_persons_answer_asked_elsewhere(clean_stack: Stack, simulator) -> None:
    simulator.config.answer = lambda msgs: LONG
    simulator.config.inter_token = 0.02
    asking, _ = terminal(clean_stack)
    result: list[int] = []
    reader = threading.Thread(target=lambda: result.append(asking.ask("count for me")))
    reader.start()
    deadline = time.monotonic() + 15
    while not (simulator.requests and simulator.requests[-1].first_token_at) and time.monotonic() < deadline:
        time.sleep(0.02)
    other, other_err = terminal(clean_stack, user="bob")
    assert other.ask("/stop") == 1
    assert other_err.getvalue().strip() == "There is no answer of yours to stop here."
    second, err = terminal(clean_stack)
    assert second.ask("/stop") == 0 and err.getvalue().strip() == "Stopping the answer."
    reader.join(30)
    assert result == [0]
    settle(clean_stack)
    assert messages(clean_stack, "assistant")[0].stopped
    assert second.ask("/stop") == 1  # nothing left to stop


def test_slash_regenerate_asks_the_last_question_again(clean_stack: Stack, simulator) -> None:
    answers = iter(["First try.", "Second try."])
    simulator.config.answer = lambda msgs: next(answers)
    chat, err = terminal(clean_stack)
    assert chat.ask("/regenerate") == 1 and "no answer of yours to regenerate" in err.getvalue()
    assert chat.ask("name a colour") == 0
    settle(clean_stack)
    out = io.StringIO()
    chat, err = terminal(clean_stack, out=out)
    assert chat.ask("/regenerate") == 0, err.getvalue()
    assert out.getvalue() == "Second try.\n"
    settle(clean_stack)
    assert [m.content for m in messages(clean_stack, "user")] == ["name a colour"]
    assert [(m.content, m.superseded) for m in messages(clean_stack, "assistant")] == [
        ("First try.", True),
        ("Second try.", False),
    ]
    other, err = terminal(clean_stack, user="bob")
    assert other.ask("/regenerate") == 1 and "no answer of yours" in err.getvalue()
