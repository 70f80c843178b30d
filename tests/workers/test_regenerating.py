"""Regenerate's event key: the question's id and the first free number, so presses at once agree."""

from __future__ import annotations

from engine.simulator import SimulatedEngine
from tests.helpers import settle
from tests.workers.test_redelivery import terminal_event
from workers import regenerating
from workers.events import Event
from workers.intake import submit
from workers.stack import Stack
from workers.stopping import Asker

ALICE = Asker(platform="terminal", tenant="local", user="alice")


def again(stack: Stack, key: str) -> Event:
    found = regenerating.again(stack.sessions, key=key, asker=ALICE)
    assert isinstance(found, Event), found
    return found


def test_presses_at_once_build_one_event_and_later_ones_the_next(
    clean_stack: Stack, simulator: SimulatedEngine
) -> None:
    asked = terminal_event("Name a colour.")
    submit(asked, sessions=clean_stack.sessions, enqueue=clean_stack.enqueue)
    settle(clean_stack)
    first, second = again(clean_stack, asked.key), again(clean_stack, asked.key)  # both read before either lands
    assert first.key == second.key == f"{asked.key}{regenerating.AGAIN}1"
    held = []
    enqueue = held.append
    assert submit(first, sessions=clean_stack.sessions, enqueue=enqueue).accepted
    assert not submit(second, sessions=clean_stack.sessions, enqueue=enqueue).accepted
    assert held == [first]
    # While it waits to be answered, another press is told so; once it is answered, the new answer is
    # the one to regenerate, and its regeneration takes the next number.
    assert regenerating.again(clean_stack.sessions, key=asked.key, asker=ALICE) is regenerating.Verdict.REGENERATING
    clean_stack.enqueue(first)
    settle(clean_stack)
    assert regenerating.again(clean_stack.sessions, key=asked.key, asker=ALICE) is regenerating.Verdict.SUPERSEDED
    assert again(clean_stack, first.key).key == f"{asked.key}{regenerating.AGAIN}2"
