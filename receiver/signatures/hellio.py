"""Hellio: `X-Hellio-Signature-V2` over "timestamp.body" (V1, over the body alone, on request)."""

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
    stale,
    unix,
    utf8,
)

VERSIONS = ("v2", "v1")  # the first is the default: V2 is required unless the key says "v1"


def verify_hellio(
    request: RawRequest, secrets: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """V2 (`X-Hellio-Timestamp` + `X-Hellio-Signature-V2` over "ts.body"), required by default.

    Hellio sends both signatures. V1 carries no timestamp, so a captured webhook verifies
    forever: it is accepted only when the key sets `signature_version = "v1"`, and only for a
    request with no V2 signature (a V2 signature present must hold).
    """
    if not secrets:
        return NO_SECRETS
    v2 = request.header("x-hellio-signature-v2")
    if v2 is not None:
        return _v2(request, v2, secrets, context)
    if version_accepted(context) != "v1":
        # deleting the V2 headers of a captured webhook must not turn off replay protection
        return fail('missing X-Hellio-Signature-V2 (V1 alone needs signature_version = "v1")')
    v1 = request.header("x-hellio-signature")
    if v1 is None:
        return fail("missing X-Hellio-Signature")
    if any(same(v1.strip().lower(), hmac_hex(s, request.body)) for s in secrets):
        return OK
    return fail("X-Hellio-Signature does not match")


def version_accepted(context: SignatureContext) -> str:
    return str(context.options.get("signature_version") or VERSIONS[0])


def _v2(
    request: RawRequest, v2: str, secrets: Sequence[str], context: SignatureContext
) -> SignatureResult:
    stamp = request.header("x-hellio-timestamp")
    if stamp is None:
        return fail("X-Hellio-Signature-V2 without X-Hellio-Timestamp")
    when = unix(stamp)
    if when is None:
        return fail("X-Hellio-Timestamp is not a timestamp")
    if reason := stale(when, context, "X-Hellio-Timestamp"):
        return fail(reason)
    message = utf8(stamp) + b"." + request.body
    if any(same(v2.strip().lower(), hmac_hex(s, message)) for s in secrets):
        return OK
    return fail("X-Hellio-Signature-V2 does not match")
