"""`dlrecon simulate`: expected-status logic, plans, and payloads the adapters really accept."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import pytest

from dlrecon.sim import expected, signing
from dlrecon.sim.gateways import FLOWS
from dlrecon.sim.model import Callback, SimMessage, Step
from dlrecon.sim.scenario import Rates, Target, parse_delay, plan, sends
from receiver import adapters, verification
from receiver.model import Channel, RawRequest, Submission
from receiver.registration.model import MessageIn
from receiver.settings import ProviderSettings

ACCEPTED = Step("0", "accepted")


def message(parts: int, callbacks: list[Callback], pricing: str | None = None) -> SimMessage:
    return SimMessage(
        index=0,
        key="k",
        adapter="geniq",
        client_ref="ref",
        channel="sms",
        destination="+447700900001",
        ids=[f"ID{i}" for i in range(parts)],
        segments=parts,
        currency="EUR",
        unit_price=Decimal("0.0100"),
        reported_price=Decimal("0.0120") if pricing else None,
        pricing=pricing,
        submit=ACCEPTED,
        submitted_at=0.0,
        callbacks=callbacks,
    )


SENT, DELIVERED = Step("sent", "sent"), Step("delivered", "delivered")
FAILED, READ = Step("failed", "failed"), Step("read", "read")


def test_rank_decides_not_arrival_order() -> None:
    assert expected.part_status(["delivered", "sent", "accepted"]) == "delivered"
    assert expected.part_status([]) == "submitted"
    assert expected.part_status(["sent"], floor="accepted") == "sent"
    assert expected.part_status(["delivered", "read"]) == "read"


def test_rollup_of_parts() -> None:
    assert expected.rollup(["delivered", "delivered"]) == "delivered"
    assert expected.rollup(["delivered", "failed", "delivered"]) == "failed"
    assert expected.rollup(["delivered", "sent"]) == "sent"
    assert expected.rollup(["read", "delivered"]) == "delivered"
    assert expected.rollup(["read", "read"]) == "read"
    assert expected.rollup(["accepted", "sent", "delivered"]) == "accepted"


def test_dropped_final_callback_leaves_the_last_delivered_status() -> None:
    m = message(1, [Callback(0, SENT, 0), Callback(0, DELIVERED, 1, dropped=True)])
    assert m.expected_status() == "sent"
    assert not expected.is_final(m.expected_status())
    m.callbacks[0].dropped = True
    assert m.expected_status() == "accepted"  # only the submit response is known


def test_reorder_and_duplicates_do_not_change_the_outcome() -> None:
    natural = [Callback(0, SENT, 0), Callback(0, DELIVERED, 1, copies=3)]
    m = message(1, list(reversed(natural)))
    assert m.expected_status() == "delivered"
    assert "duplicated" in m.flags()


def test_multipart_failed_part_and_dropped_part() -> None:
    failed = message(
        3,
        [
            Callback(0, DELIVERED, 0),
            Callback(1, FAILED, 0),
            Callback(2, DELIVERED, 0),
        ],
    )
    assert failed.expected_status() == "failed"
    waiting = message(
        2,
        [Callback(0, DELIVERED, 1), Callback(1, SENT, 0), Callback(1, DELIVERED, 1, dropped=True)],
    )
    assert waiting.expected_status() == "sent"
    assert "multipart" in waiting.flags()


def test_expected_provider_cost() -> None:
    per_part = message(
        2, [Callback(0, DELIVERED, 0), Callback(1, DELIVERED, 0, dropped=True)], "per_part"
    )
    # part 0 reported 0.0120, part 1 only has the submit response's 0.0100
    assert per_part.expected_cost() == Decimal("0.0220")
    per_message = message(1, [Callback(0, DELIVERED, 0)], "per_message")
    per_message.segments = 3
    assert per_message.expected_cost() == Decimal("0.0360")
    per_message.callbacks[0].dropped = True
    assert per_message.expected_cost() is None
    assert message(1, [Callback(0, DELIVERED, 0)]).expected_cost() is None


def test_parse_delay() -> None:
    assert parse_delay("0..20") == (0, 20)
    assert parse_delay("7") == (0, 7)
    with pytest.raises(ValueError):
        parse_delay("5..1")


def test_plan_is_reproducible_and_applies_faults() -> None:
    targets = [Target(name, flow) for name, flow in FLOWS.items()]
    rates = Rates(duplicates=0.3, reorder=0.5, drops=0.2, orphans=0.3, multipart=0.5, failures=0.3)
    one = plan(targets, 400, rates, seed=5, run_id="a", start=time.time())
    two = plan(targets, 400, rates, seed=5, run_id="b", start=time.time())
    summary = [(m.expected_status(), m.flags()) for m in one]
    assert summary == [(m.expected_status(), m.flags()) for m in two]
    assert {m.ids[0] for m in one}.isdisjoint({m.ids[0] for m in two}), "ids unique per run"
    flags = {f for m in one for f in m.flags()}
    assert {"orphan", "reordered", "duplicated", "dropped", "multipart", "failure"} <= flags
    early, late = sends(one)
    sent = sum(c.copies for m in one for c in m.callbacks if not c.dropped)
    assert len(early) + len(late) == sent
    assert all(m.orphan for m, _ in early)


def _secrets_for(scheme: str | None) -> dict[str, Any]:
    if scheme == "twilio":
        return {"signing_secrets": ["tw-secret"], "public_url": "https://dlr.example.com/cb/tw"}
    if scheme == "vonage":
        return {"signing_secrets": ["vo-secret"], "signature_method": "sha256"}
    if scheme is not None:
        return {"signing_secrets": ["old", "new-secret"], "path_token": "tok"}
    return {"path_token": "tok", "basic_auth": {"user": "u", "password": "p"}}


def _raw(signed: signing.Signed) -> RawRequest:
    headers = {k.lower(): v for k, v in signed.headers.items()}
    return RawRequest(
        method=signed.method,
        path="/v1/callbacks/k",
        query=tuple(parse_qsl(signed.query, keep_blank_values=True)),
        headers=headers,
        body=signed.body,
        content_type=headers.get("content-type", ""),
        remote="127.0.0.1",
        raw_query=signed.query,
    )


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_every_callback_verifies_and_parses_to_the_planned_status(name: str) -> None:
    flow = FLOWS[name]
    adapter = adapters.get(name)
    provider = ProviderSettings(**_secrets_for(adapter.signature_scheme))
    options = provider.options()
    rates = Rates(failures=0.5, multipart=0.5)
    messages = plan([Target("k", flow)], 40, rates, seed=3, run_id="t", start=time.time())
    for m in messages:
        item = flow.register(m)
        prepared = MessageIn.model_validate(item)
        outcome = adapter.parse_submit(
            Submission(
                provider_key="k",
                channel=Channel(m.channel),
                client_ref=m.client_ref,
                provider_message_ids=tuple(prepared.provider_message_ids),
                destination=m.destination,
                submitted_at=prepared.submitted_at,
                submit_response=prepared.submit_response,
                submit_http_status=prepared.submit_http_status,
                segments=m.segments,
            ),
            options,
        )
        assert {e.status.value for e in outcome.events} == {m.submit.status}
        for cb in m.callbacks:
            signed = signing.sign(
                flow.callback(m, cb), provider, adapter.signature_scheme, time.time(), "n1"
            )
            raw = _raw(signed)
            verdict = verification.check(raw, provider, adapter, now=time.time())
            assert verdict.ok, (name, verdict.reason)
            events = adapter.parse_callback(raw, options)
            assert [e.status.value for e in events] == [cb.step.status], (name, cb.step)
            event = events[0]
            wanted = adapter.canonical_id(m.ids[cb.part], options)
            assert event.provider_message_id == wanted or event.client_ref == m.client_ref
            if m.pricing:
                assert event.cost is not None


def test_standard_webhooks_signing_verifies() -> None:
    provider = ProviderSettings(
        scheme="standard-webhooks", signing_secrets=["whsec_c2VjcmV0LWtleQ"]
    )
    flow = FLOWS["geniq"]
    m = plan([Target("k", flow)], 1, Rates(), seed=1, run_id="s", start=time.time())[0]
    signed = signing.sign(
        flow.callback(m, m.callbacks[0]), provider, "standard-webhooks", time.time(), "msg_1"
    )
    verdict = verification.check(_raw(signed), provider, adapters.get("geniq"), now=time.time())
    assert verdict.ok, verdict.reason


def test_unsupported_keys_are_explained() -> None:
    twilio = ProviderSettings(signing_secrets=["x"])
    assert signing.unsupported(twilio, "twilio") == "twilio signing needs public_url"
    assert signing.unsupported(ProviderSettings(signing_secrets=["x"]), "custom") is not None
    assert signing.unsupported(ProviderSettings(path_token="t"), None) is None
