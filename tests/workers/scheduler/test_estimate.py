"""The wait model: Erlang C, Cobham's priority waits, and what a person is told."""

from __future__ import annotations

import math

import pytest

from workers.events import PriorityClass
from workers.scheduler.estimate import backlog_wait, class_waits, erlang_c, expected_wait, priority_waits
from workers.scheduler.store import Stats

INTERACTIVE, COMMANDS, BATCH = PriorityClass.INTERACTIVE, PriorityClass.COMMANDS, PriorityClass.BATCH


def test_erlang_c_matches_known_values() -> None:
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(10, 8.0) == pytest.approx(0.4092, abs=1e-4)
    assert erlang_c(4, 0.0) == 0.0
    assert erlang_c(4, 4.0) == 1.0


def test_one_class_reduces_to_m_m_c() -> None:
    # M/M/1 with lambda = 0.5, s = 1: Wq = rho / (mu - lambda) = 1 s.
    assert priority_waits([0.5], service_time=1.0, servers=1) == [pytest.approx(1.0)]
    # M/M/2 with lambda = 1, s = 1: Wq = C / (c mu - lambda) = (1/3) / 1.
    assert priority_waits([1.0], service_time=1.0, servers=2) == [pytest.approx(1 / 3)]


def test_higher_classes_wait_less_and_overload_shows_as_infinite() -> None:
    top, middle, low = priority_waits([0.2, 0.2, 0.4], service_time=1.0, servers=1)
    assert top < middle < low
    # Cobham: W_k = W0 / ((1 - sigma_{k-1})(1 - sigma_k)) with W0 = C / (c mu) = rho.
    assert top == pytest.approx(0.8 / (1 * 0.8))
    assert low == pytest.approx(0.8 / (0.6 * 0.2))
    waits = priority_waits([0.5, 0.6, 0.1], service_time=1.0, servers=1)
    assert waits[0] == pytest.approx(1.0 / 0.5) and math.isinf(waits[1]) and math.isinf(waits[2])


def test_backlog_wait_counts_what_is_ahead() -> None:
    assert backlog_wait(0, free=1, servers=4, service_time=10.0) == 0.0
    assert backlog_wait(0, free=0, servers=4, service_time=10.0) == pytest.approx(2.5)
    assert backlog_wait(7, free=0, servers=4, service_time=10.0) == pytest.approx(20.0)


def stats(*, in_flight: int, rates: tuple[float, float, float], service: float | None, slots: int = 2) -> Stats:
    return Stats(
        slots=slots,
        in_flight=in_flight,
        queued={INTERACTIVE: 0, COMMANDS: 0, BATCH: 0},
        arrivals=dict(zip((INTERACTIVE, COMMANDS, BATCH), rates, strict=True)),
        service_time=service,
        tokens_per_request=None,
    )


def test_what_a_person_is_told() -> None:
    quiet = stats(in_flight=0, rates=(0.01, 0.0, 0.0), service=2.0)
    assert expected_wait(quiet, priority=INTERACTIVE, ahead=0, default_slots=1) < 0.1
    # Both slots busy, 5 ahead: 6 departures at 2 per 4 s -> 12 s, more than the steady-state model.
    busy = stats(in_flight=2, rates=(0.1, 0.0, 0.2), service=4.0)
    assert expected_wait(busy, priority=INTERACTIVE, ahead=5, default_slots=1) == pytest.approx(12.0)
    # Overloaded: the model has no steady state, the queue still tells the wait.
    flooded = stats(in_flight=2, rates=(1.0, 0.0, 5.0), service=4.0)
    assert math.isinf(class_waits(flooded, default_slots=1)[BATCH])
    assert expected_wait(flooded, priority=BATCH, ahead=1, default_slots=1) == pytest.approx(4.0)
    # Before anything was measured there is no service time: nothing to tell.
    assert (
        expected_wait(stats(in_flight=2, rates=(0, 0, 0), service=None), priority=INTERACTIVE, ahead=3, default_slots=1)
        == 0
    )
