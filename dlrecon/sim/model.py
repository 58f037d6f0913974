"""The simulation's plan: messages, their callbacks and the faults applied to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dlrecon.sim import expected


@dataclass(frozen=True, slots=True)
class Step:
    """One provider report: its raw status token, the canonical status, an error code."""

    raw: str
    status: str
    error: str | None = None


@dataclass(slots=True)
class Callback:
    """One callback of a message: which part, which report, and what happens to it."""

    part: int
    step: Step
    seq: int  # position in the provider's natural order (drives provider times)
    dropped: bool = False
    copies: int = 1  # more than 1: the provider sends it again (duplicates)


@dataclass(slots=True)
class Request:
    """An unsigned callback request; signing adds the key's credentials."""

    method: str = "POST"
    query: list[tuple[str, str]] = field(default_factory=list)
    form: list[tuple[str, str]] | None = None  # form fields (encoded into the body when signed)
    body: bytes = b""
    content_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class SimMessage:
    """A simulated message and everything the simulator will do with it."""

    index: int
    key: str
    adapter: str
    client_ref: str
    channel: str
    destination: str
    ids: list[str]  # provider ids, one per status part
    segments: int
    currency: str
    unit_price: Decimal  # registered cost per segment
    reported_price: Decimal | None  # per-segment price the provider reports, if it reports one
    pricing: str | None  # "per_part" (submit + receipts per part) | "per_message" | None
    submit: Step
    submitted_at: float
    callbacks: list[Callback] = field(default_factory=list)
    orphan: bool = False
    reordered: bool = False
    failed_part: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # flow-specific values

    @property
    def cost(self) -> Decimal:
        return self.unit_price * self.segments

    @property
    def parts(self) -> int:
        return max(1, len(self.ids))

    def delivered_steps(self) -> list[list[str]]:
        """Canonical statuses that reach dlrecon, per part, in provider order."""
        per_part: list[list[str]] = [[] for _ in range(self.parts)]
        for cb in sorted(self.callbacks, key=lambda c: c.seq):
            if not cb.dropped:
                per_part[cb.part].append(cb.step.status)
        return per_part

    def expected_status(self) -> str:
        return expected.message_status(self.submit.status, self.delivered_steps())

    def expected_cost(self) -> Decimal | None:
        """The provider cost dlrecon must show: latest reported price per part, summed."""
        if self.pricing is None or self.reported_price is None:
            return None
        reached = [bool(steps) for steps in self.delivered_steps()]
        if self.pricing == "per_message":
            return self.reported_price * self.segments if any(reached) else None
        # per part: the submit response priced each part; a receipt's price replaces it
        return sum((self.reported_price if r else self.unit_price for r in reached), Decimal(0))

    def flags(self) -> list[str]:
        out = []
        if self.orphan:
            out.append("orphan")
        if self.reordered:
            out.append("reordered")
        if any(c.copies > 1 for c in self.callbacks):
            out.append("duplicated")
        if any(c.dropped for c in self.callbacks):
            out.append("dropped")
        if self.parts > 1 or self.segments > 1:
            out.append("multipart")
        if self.failed_part is not None:
            out.append("failure")
        if self.reported_price is not None and self.reported_price != self.unit_price:
            out.append("price_deviation")
        return out

    def record(self) -> dict[str, Any]:
        """The JSON record of this message: what dlrecon must show."""
        status = self.expected_status()
        cost = self.expected_cost()
        return {
            "provider": self.key,
            "adapter": self.adapter,
            "client_ref": self.client_ref,
            "provider_message_ids": self.ids,
            "segments": self.segments,
            "expected_status": status,
            "expected_final": expected.is_final(status),
            "expected_provider_cost": str(cost) if cost is not None else None,
            "currency": self.currency,
            "registered_cost": str(self.cost),
            "callbacks_sent": sum(c.copies for c in self.callbacks if not c.dropped),
            "callbacks_dropped": sum(1 for c in self.callbacks if c.dropped),
            "flags": self.flags(),
        }
