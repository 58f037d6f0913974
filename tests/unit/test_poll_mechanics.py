"""The poller's mechanics without a network: breaker, back-off, Retry-After, schedule,
durations in the configuration, the server-side window count the rate test relies on."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from receiver.poll import schedule
from receiver.poll.client import backoff, classify, retry_after
from receiver.poll.gate import Breaker, BreakerState
from receiver.settings import KeyPollSettings, seconds
from tests.support import make_settings
from tests.support.poll_fakes import max_in_window


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_failures_in_a_row_and_probes_once_when_half_open() -> None:
    clock = Clock()
    breaker = Breaker(threshold=3, reset=10, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failure()
    breaker.success()  # a success resets the count
    for _ in range(3):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    clock.now = 10
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one
    breaker.failure()  # the probe failed: open again, for another reset period
    assert breaker.state is BreakerState.OPEN
    clock.now = 20
    assert breaker.allow()
    breaker.success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()


def test_a_429_on_the_probe_lets_another_probe_go() -> None:
    clock = Clock()
    breaker = Breaker(threshold=1, reset=1, clock=clock)
    breaker.failure()
    clock.now = 1
    assert breaker.allow()
    breaker.neutral()
    assert breaker.allow()


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "ok"),
        (204, "ok"),
        (404, "not_found"),
        (429, "rate_limited"),
        (401, "auth"),
        (403, "auth"),
        (400, "client_error"),
        (500, "server_error"),
        (503, "server_error"),
    ],
)
def test_classify(status: int, outcome: str) -> None:
    assert classify(status) == outcome


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after("7") == 7.0
    assert retry_after("Tue, 01 Dec 2026 12:00:30 GMT", now) == 30.0
    assert retry_after("Tue, 01 Dec 2026 11:00:00 GMT", now) == 0.0
    assert retry_after(None) is None and retry_after("soon") is None


def test_backoff_grows_exponentially_with_full_jitter_up_to_the_cap() -> None:
    rng = random.Random(1)
    for attempt in range(8):
        waits = [backoff(attempt, 0.5, 30, rng) for _ in range(200)]
        ceiling = min(30, 0.5 * 2**attempt)
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8  # spread over the whole range, not a fixed delay


def test_schedule_steps_then_repeats_its_last_step() -> None:
    rng = random.Random(2)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    steps = [60, 300, 1800, 7200, 43200]
    for attempts, step in [(0, 60), (1, 300), (4, 43200), (9, 43200)]:
        wait = (schedule.after_answer(attempts, steps, now, rng) - now).total_seconds()
        assert step * 0.9 <= wait <= step * 1.1
    waits = [schedule.after_failure(n, steps, 3600, now, rng) - now for n in range(10)]
    assert waits[0] <= timedelta(seconds=66) and waits[-1] <= timedelta(seconds=3960)
    assert waits[3] >= timedelta(seconds=60 * 8 * 0.9)


def test_durations_read_as_seconds() -> None:
    assert seconds("90s") == 90 and seconds("5m") == 300 and seconds("2h") == 7200
    assert seconds("3d") == 3 * 86400 and seconds("250ms") == 0.25 and seconds(12) == 12
    with pytest.raises(ValueError):
        seconds("soon")
    poll = KeyPollSettings(schedule=["1m", "5m"], horizon="2d")
    assert poll.schedule == [60, 300] and poll.horizon == 172800


def test_polling_a_key_needs_a_status_api_a_base_url_and_credentials() -> None:
    base = {"verify": "off", "poll": {}}
    with pytest.raises(ValueError, match="no status API"):
        make_settings({"g": {"adapter": "geniq", **base, "api_base_url": "http://x"}})
    with pytest.raises(ValueError, match="api_base_url is required"):
        make_settings({"t": {"adapter": "twilio", **base, "account_sid": "AC", "auth_token": "x"}})
    with pytest.raises(ValueError, match="needs api_key, api_secret"):
        make_settings({"v": {"adapter": "vonage", **base, "api_base_url": "http://x"}})
    with pytest.raises(ValueError, match="poll_fields: unknown key"):
        make_settings(
            {"y": {"adapter": "yellowpush", "verify": "off", "poll_fields": {"idf": "x"}}}
        )
    ok = make_settings(
        {"i": {"adapter": "infobip", **base, "api_base_url": "http://x", "api_key": "k"}}
    )
    assert ok.providers["i"].poll is not None


def test_max_in_window_counts_arrivals_in_any_window() -> None:
    assert max_in_window([], 1.0) == 0
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.5], 1.0) == 3
    assert max_in_window([0.0, 0.1, 0.2, 5.0], 1.0) == 3
    assert max_in_window([float(i) for i in range(10)], 1.0) == 1
