"""Plan a simulation: which messages, which callbacks, and which faults, from one seed."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from dlrecon.sim.model import Callback, SimMessage
from dlrecon.sim.payloads import Flow

CENT = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Rates:
    """Fault rates (probabilities per message or per callback) and the delay range."""

    duplicates: float = 0.1  # per callback: sent twice
    reorder: float = 0.2  # per message: callbacks in a shuffled order
    drops: float = 0.05  # per callback: never sent
    orphans: float = 0.1  # per message: callbacks before registration
    multipart: float = 0.2  # per message of a provider with parts: 2-4 parts
    failures: float = 0.1  # per message: ends failed (one part, when multipart)
    price_deviation: float = 0.05  # per priced message: reported price differs
    delay_ms: tuple[int, int] = (0, 5)  # before each callback, uniform

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["delay_ms"] = list(self.delay_ms)
        return data


def parse_delay(text: str) -> tuple[int, int]:
    """`N` or `A..B` milliseconds."""
    low, sep, high = text.partition("..")
    try:
        bounds = (int(low), int(high)) if sep else (0, int(low))
    except ValueError:
        raise ValueError(f"delay must be N or A..B milliseconds, not {text!r}") from None
    if bounds[0] < 0 or bounds[1] < bounds[0]:
        raise ValueError(f"delay range {text!r} is empty or negative")
    return bounds


@dataclass(frozen=True, slots=True)
class Target:
    """A provider key the simulator sends for, and how its provider reports."""

    key: str
    flow: Flow


def plan(
    targets: list[Target],
    count: int,
    rates: Rates,
    seed: int,
    run_id: str,
    start: float,
) -> list[SimMessage]:
    """`count` messages spread over `targets`; faults drawn from `seed`, ids unique per run."""
    rng = random.Random(seed)
    ids = random.Random(f"{seed}/{run_id}")
    return [
        _message(i, targets[i % len(targets)], rates, rng, ids, run_id, start) for i in range(count)
    ]


def _message(
    index: int,
    target: Target,
    rates: Rates,
    rng: random.Random,
    ids: random.Random,
    run_id: str,
    start: float,
) -> SimMessage:
    flow = target.flow
    multipart = (flow.per_part_ids or flow.segment_count) and rng.random() < rates.multipart
    segments = rng.randint(2, 4) if multipart else 1
    price = Decimal(rng.randint(50, 900)) * CENT
    reported = price if flow.pricing else None
    if reported is not None and rng.random() < rates.price_deviation:
        factor = Decimal(rng.choice([-1, 1]) * rng.randint(10, 50)) / 100
        reported = max(CENT, (price * (1 + factor)).quantize(CENT))
        if reported == price:
            reported += CENT
    m = SimMessage(
        index=index,
        key=target.key,
        adapter=flow.adapter,
        client_ref=f"sim-{run_id}-{index:06d}",
        channel=flow.channel,
        destination=f"+4477009{ids.randrange(10**5):05d}",
        ids=[flow.new_id(ids) for _ in range(segments if flow.per_part_ids else 1)],
        segments=segments,
        currency=flow.currency,
        unit_price=price,
        reported_price=reported,
        pricing=flow.pricing,
        submit=flow.submit,
        submitted_at=start - 300 + rng.random() * 60,
    )
    if flow.failures and rng.random() < rates.failures:
        m.failed_part = rng.randrange(m.parts)
    failure = rng.choice(flow.failures) if m.failed_part is not None else []
    for part in range(m.parts):
        steps = failure if part == m.failed_part else flow.success_steps(rng)
        m.callbacks += [Callback(part, step, seq) for seq, step in enumerate(steps)]
    m.callbacks.sort(key=lambda c: (c.seq, c.part))
    for cb in m.callbacks:
        cb.dropped = rng.random() < rates.drops
        if not cb.dropped and rng.random() < rates.duplicates:
            cb.copies = 2 if rng.random() < 0.8 else 3
    if len(m.callbacks) > 1 and rng.random() < rates.reorder:
        natural = list(m.callbacks)
        rng.shuffle(m.callbacks)
        if m.callbacks == natural:
            m.callbacks.reverse()
        m.reordered = True
    m.orphan = rng.random() < rates.orphans
    return m


def sends(
    messages: list[SimMessage],
) -> tuple[list[tuple[SimMessage, Callback]], list[tuple[SimMessage, Callback]]]:
    """(callbacks sent before registration, callbacks sent after) in sending order.

    After registration, callbacks go in rounds (every message's first, then second...);
    a duplicate is sent again one round later, as a provider retrying would.
    """
    early: list[tuple[SimMessage, Callback]] = []
    rounds: list[list[tuple[SimMessage, Callback]]] = []
    for m in messages:
        live = [cb for cb in m.callbacks if not cb.dropped]
        if m.orphan:
            early += [(m, cb) for cb in live for _ in range(cb.copies)]
            continue
        for position, cb in enumerate(live):
            for copy in range(cb.copies):
                while len(rounds) <= position + copy:
                    rounds.append([])
                rounds[position + copy].append((m, cb))
    return early, [item for batch in rounds for item in batch]
