"""Deadlines on a scripted clock: passing, shares of the time left, and never."""

from __future__ import annotations

import math

from pipelines.deadline import Deadline


class Clock:
    """A clock that reads `now` and moves only when told."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_deadline_passes_at_its_moment_and_counts_down():
    clock = Clock()
    deadline = Deadline.after(10.0, clock)
    assert deadline.remaining() == 10.0 and not deadline.passed()
    clock.now = 109.5
    assert deadline.remaining() == 0.5 and not deadline.passed()
    clock.now = 110.0
    assert deadline.passed() and deadline.remaining() == 0.0
    clock.now = 112.0
    assert deadline.remaining() == -2.0


def test_shares_divide_the_time_left_from_now():
    clock = Clock()
    deadline = Deadline.after(10.0, clock)
    assert deadline.split(5).at == 102.0
    clock.now = 104.0  # an early fold used 4 s: the 4 folds left share the 6 s that remain
    assert deadline.split(4).at == 105.5
    assert deadline.share(0.5).at == 107.0
    assert deadline.earlier(1.0).at == 109.0
    clock.now = 120.0  # past it, a share is now: a step gets its first iteration only
    assert deadline.split(3).at == 120.0 and deadline.split(3).passed()


def test_never_never_passes():
    never = Deadline.never()
    assert not never.bounded and not never.passed()
    assert never.remaining() == math.inf
    assert never.split(5) == never and never.earlier(3.0) == never
