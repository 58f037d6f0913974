"""Telnyx: `telnyx-signature-ed25519`, an Ed25519 signature of "{telnyx-timestamp}|{body}",
checked with the account's public key (Mission Control → Keys & Credentials → Public Key)."""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from receiver.model import RawRequest
from receiver.signatures.common import (
    OK,
    SignatureContext,
    SignatureResult,
    fail,
    stale,
    unix_seconds,
    utf8,
)

NO_PUBLIC_KEYS = SignatureResult(False, "no public_keys configured")


@functools.lru_cache(maxsize=64)  # the configured keys, decoded once rather than per callback
def public_key(encoded: str) -> Ed25519PublicKey | None:
    """A base64 Ed25519 public key (32 bytes), or None when it is not one."""
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 32:
        return None
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_telnyx(
    request: RawRequest, keys: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """`keys` are the configured `public_keys`; any one may verify (rotation)."""
    if not keys:
        return NO_PUBLIC_KEYS
    signature = request.header("telnyx-signature-ed25519")
    stamp = request.header("telnyx-timestamp")
    if signature is None or stamp is None:
        return fail("missing telnyx-signature-ed25519 or telnyx-timestamp")
    when = unix_seconds(stamp)
    if when is None:
        return fail("telnyx-timestamp is not a unix time")
    if reason := stale(when, context, "telnyx-timestamp"):
        return fail(reason)
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return fail("telnyx-signature-ed25519 is not base64")
    if len(raw) != 64:
        return fail("telnyx-signature-ed25519 is not an Ed25519 signature")
    message = utf8(stamp.strip()) + b"|" + request.body
    for key in filter(None, map(public_key, keys)):
        try:
            key.verify(raw, message)
        except InvalidSignature:
            continue
        return OK
    return fail("telnyx-signature-ed25519 does not match")
