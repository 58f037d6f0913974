"""When a message is polled next (pure): the key's back-off schedule, with jitter."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

JITTER = 0.1  # each wait is moved by up to 10% either way, so messages polled together drift apart


def after_answer(
    attempts: int, schedule: Sequence[float], now: datetime, rng: random.Random
) -> datetime:
    """After the provider answered the `attempts`-th time (0 = first): the schedule's next
    step (1 min, 5 min, 30 min, 2 h, 12 h...), the last step repeating until the horizon."""
    step = schedule[min(attempts, len(schedule) - 1)]
    return now + timedelta(seconds=step * rng.uniform(1 - JITTER, 1 + JITTER))


def after_failure(
    failures: int, schedule: Sequence[float], cap: float, now: datetime, rng: random.Random
) -> datetime:
    """After `failures` polls in a row got no answer (5xx, timeouts...): the schedule's first
    step doubled per failure, at most `cap` seconds, with jitter."""
    wait = min(cap, schedule[0] * 2**failures)
    return now + timedelta(seconds=wait * rng.uniform(1 - JITTER, 1 + JITTER))
