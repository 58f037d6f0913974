"""Provider health's verdict (pure): the worst state wins and every reason is kept; durations
as the configuration writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconcile.durations import duration_text, parse_duration
from reconcile.oncall.health import verdict
from reconcile.oncall.settings import HealthRules
from reconcile.oncall.views import UsualFigures, WindowFigures

RULES = HealthRules()
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def figures(**changes: object) -> WindowFigures:
    base: dict[str, object] = dict(
        sent=100,
        finals=95,
        failures=5,
        failure_share=0.0526,
        failures_by_class={"recipient": 5},
        callbacks=100,
        callbacks_per_sent=1.0,
        orphans=0,
        orphan_rate=0.0,
        quarantined=0,
        quarantine_rate=0.0,
        verification_failures=0,
        median_to_final_seconds=10.0,
        p95_to_final_seconds=30.0,
        open_late=0,
        late_after_seconds=90.0,
    )
    base.update(changes)
    return WindowFigures(**base)  # type: ignore[arg-type]


USUAL = UsualFigures(
    start=NOW - timedelta(days=8),
    end=NOW - timedelta(days=1),
    sent=5000,
    callbacks_per_sent=1.0,
    failure_share=0.05,
    median_to_final_seconds=10.0,
    p95_to_final_seconds=30.0,
    computed_at=NOW,
)


def test_a_usual_window_is_ok() -> None:
    state, reasons = verdict(figures(), USUAL, RULES, "15m")
    assert state == "ok" and "usual 1.00" in reasons[0]


def test_few_callbacks_against_the_usual_is_silent() -> None:
    state, reasons = verdict(figures(callbacks=10, callbacks_per_sent=0.1), USUAL, RULES, "15m")
    assert state == "silent"
    assert reasons == [
        "10 callbacks for 100 messages sent in the last 15m (0.10 per message; usual 1.00)"
    ]


def test_a_key_that_never_calls_back_is_not_silent() -> None:
    usual = USUAL.model_copy(update={"callbacks_per_sent": 0.0})
    state, _ = verdict(figures(callbacks=0, callbacks_per_sent=0.0), usual, RULES, "15m")
    assert state == "ok"


def test_without_a_usual_only_no_callback_at_all_is_silent() -> None:
    assert verdict(figures(callbacks=3, callbacks_per_sent=0.03), None, RULES, "15m")[0] == "ok"
    assert verdict(figures(callbacks=0, callbacks_per_sent=0.0), None, RULES, "15m")[0] == "silent"


def test_late_open_messages_are_slow() -> None:
    state, reasons = verdict(figures(open_late=40), USUAL, RULES, "1h")
    assert state == "slow" and "40 of 100 messages" in reasons[0]


def test_failing_wins_and_every_reason_is_kept() -> None:
    f = figures(
        callbacks=5,
        callbacks_per_sent=0.05,
        verification_failures=90,
        open_late=50,
    )
    state, reasons = verdict(f, USUAL, RULES, "15m")
    assert state == "failing"
    assert "failed verification" in reasons[0]
    assert any("callbacks for 100" in r for r in reasons)  # silent too
    assert any("still open" in r for r in reasons)  # and slow


def test_a_failure_share_well_above_the_usual_is_failing() -> None:
    f = figures(failures=60, failure_share=0.6316, failures_by_class={"route": 50, "recipient": 10})
    state, reasons = verdict(f, USUAL, RULES, "1h")
    assert state == "failing" and "mostly route" in reasons[0]


@pytest.mark.parametrize(
    ("text", "seconds"), [("15m", 900), ("1h30m", 5400), ("90s", 90), ("7d", 604800), (45, 45)]
)
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_duration_text() -> None:
    assert [duration_text(timedelta(seconds=s)) for s in (900, 3600, 86400, 5400, 20)] == [
        "15m",
        "1h",
        "24h",
        "1h30m",
        "20s",
    ]
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("fortnight")
