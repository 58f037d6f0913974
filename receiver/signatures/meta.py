"""Meta (WhatsApp Business): `X-Hub-Signature-256`, HMAC-SHA256 of the body with the app secret."""

from __future__ import annotations

from collections.abc import Sequence

from receiver.model import RawRequest
from receiver.signatures.common import (
    NO_SECRETS,
    OK,
    SignatureContext,
    SignatureResult,
    fail,
    hmac_hex,
    same,
)


def verify_meta(
    request: RawRequest, secrets: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`."""
    if not secrets:
        return NO_SECRETS
    header = request.header("x-hub-signature-256")
    if header is None:
        return fail("missing X-Hub-Signature-256")
    prefix, _, given = header.strip().partition("=")
    if prefix.lower() != "sha256" or not given:
        return fail("X-Hub-Signature-256 is not 'sha256=<hex>'")
    if any(same(given.lower(), hmac_hex(s, request.body)) for s in secrets):
        return OK
    return fail("X-Hub-Signature-256 does not match")
