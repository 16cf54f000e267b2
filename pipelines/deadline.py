"""Deadlines: a point in time on a monotonic clock that long steps check to stop cleanly."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


@dataclass(frozen=True)
class Deadline:
    """A moment `at` on `clock` (time.monotonic by default; tests inject a scripted clock);
    `at=None` never passes. Smaller deadlines are carved out of it with `share` and `split`."""

    at: float | None = None
    clock: Clock = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def after(cls, seconds: float, clock: Clock = time.monotonic) -> Deadline:
        """The deadline `seconds` from now."""
        return cls(clock() + seconds, clock)

    @classmethod
    def never(cls) -> Deadline:
        return cls(None)

    @property
    def bounded(self) -> bool:
        return self.at is not None

    def remaining(self) -> float:
        """Seconds left (negative once passed); infinity for a deadline that never passes."""
        return math.inf if self.at is None else self.at - self.clock()

    def passed(self) -> bool:
        return self.at is not None and self.clock() >= self.at

    def share(self, fraction: float) -> Deadline:
        """The deadline after `fraction` of the time left from now (none left: now)."""
        if self.at is None:
            return self
        now = self.clock()
        return Deadline(now + max(self.at - now, 0.0) * fraction, self.clock)

    def split(self, parts: int) -> Deadline:
        """The deadline of the first of `parts` equal shares of the time left: dividing what
        remains over what remains lets late parts inherit what early ones did not use."""
        return self.share(1.0 / max(parts, 1))

    def earlier(self, seconds: float) -> Deadline:
        """This deadline moved `seconds` earlier (time kept back for the steps after it)."""
        return self if self.at is None else Deadline(self.at - seconds, self.clock)
