"""Callback signature verification: pure functions, constant-time comparisons, no I/O.

Each scheme takes the stored request, the key's verification keys (`signing_secrets`, or
`public_keys` for Ed25519; any match verifies, for rotation) and a context carrying the clock,
the timestamp tolerance, the public URL the provider calls and scheme options. Reasons never
contain secrets or expected signatures. `SCHEMES` also says what each scheme needs configured,
so that a key that cannot verify anything is refused at start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from receiver.model import RawRequest
from receiver.signatures import bird, hellio, meta, plivo, telnyx, twilio, vonage, webhooks
from receiver.signatures.common import (
    NO_PUBLIC_URL,
    NO_SECRETS,
    OK,
    SignatureContext,
    SignatureResult,
    Verifier,
    fail,
    same,
)

__all__ = [
    "NO_PUBLIC_URL",
    "NO_SECRETS",
    "OK",
    "SCHEMES",
    "Scheme",
    "SignatureContext",
    "SignatureResult",
    "Verifier",
    "same",
    "verify",
]


@dataclass(frozen=True, slots=True)
class Scheme:
    """A verification scheme and what a key must configure for it to work."""

    verify: Verifier
    keys: Literal["signing_secrets", "public_keys"] = "signing_secrets"
    needs_public_url: bool = False  # the provider signs the URL it calls
    # accepted `signature_version` values, the default first (the oldest version accepted)
    versions: tuple[str, ...] = ()


SCHEMES: dict[str, Scheme] = {
    "hellio": Scheme(hellio.verify_hellio, versions=hellio.VERSIONS),
    "twilio": Scheme(twilio.verify_twilio, needs_public_url=True),
    "vonage": Scheme(vonage.verify_vonage),
    "meta": Scheme(meta.verify_meta),
    "standard-webhooks": Scheme(webhooks.verify_standard_webhooks),
    "svix": Scheme(webhooks.verify_svix),
    "plivo": Scheme(plivo.verify_plivo, needs_public_url=True, versions=plivo.VERSIONS),
    "telnyx": Scheme(telnyx.verify_telnyx, keys="public_keys"),
    "messagebird": Scheme(bird.verify_messagebird, needs_public_url=True),
    "bird": Scheme(bird.verify_bird, needs_public_url=True),
}

public_key = telnyx.public_key


def verify(
    scheme: str, request: RawRequest, keys: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """Verify `request` with the named scheme; an unknown scheme fails with its reason."""
    spec = SCHEMES.get(scheme)
    if spec is None:
        return fail(f"unknown signature scheme {scheme!r}")
    return spec.verify(request, keys, context)
