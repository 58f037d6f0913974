"""MessageBird and Bird, both signing with the account's signing key over the URL called:

- `messagebird`: `MessageBird-Signature-JWT`, an HS256 JWT (HS384/HS512 too, as MessageBird's
  SDK accepts) issued by "MessageBird" with `nbf`, `exp`, `url_hash` (SHA-256 of the URL) and
  `payload_hash` (SHA-256 of the body, present exactly when there is a body);
- `bird` (the Bird platform's webhook subscriptions): `messagebird-signature`, base64
  HMAC-SHA256 of "{messagebird-request-timestamp}\n{URL}\n" + the body's binary SHA-256.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from typing import Any

import jwt

from receiver.model import RawRequest
from receiver.signatures.common import (
    NO_PUBLIC_URL,
    NO_SECRETS,
    OK,
    SignatureContext,
    SignatureResult,
    fail,
    hmac_digest,
    jwt_claims,
    same,
    signed_url,
    stale,
    unix,
    utf8,
)

JWT_ALGORITHMS = ["HS256", "HS384", "HS512"]
EXPIRY_LEEWAY = 1  # seconds past `exp`, as MessageBird's SDK allows


def verify_messagebird(
    request: RawRequest, secrets: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """The JWT's signature, issuer, times, URL hash and body hash must all hold."""
    if not secrets:
        return NO_SECRETS
    token = request.header("messagebird-signature-jwt")
    if token is None:
        return fail("missing MessageBird-Signature-JWT")
    if context.public_url is None:
        return NO_PUBLIC_URL
    claims: dict[str, Any] | None = None
    for secret in secrets:
        try:
            claims = jwt_claims(token.strip(), secret, JWT_ALGORITHMS)
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError:
            return fail("MessageBird-Signature-JWT is not a valid JWT")
    if claims is None:
        return fail("MessageBird-Signature-JWT signature does not match")
    if claims.get("iss") != "MessageBird":
        return fail("JWT issuer is not MessageBird")
    nbf, exp = _number(claims.get("nbf")), _number(claims.get("exp"))
    if nbf is None or exp is None:
        return fail("JWT has no numeric nbf and exp")
    if exp + EXPIRY_LEEWAY < context.now:
        return fail("JWT has expired")
    if nbf > context.now + context.tolerance_seconds:
        return fail(f"JWT nbf is more than {context.tolerance_seconds}s in the future")
    url_hash = claims.get("url_hash")
    expected_url = hashlib.sha256(utf8(signed_url(context.public_url, request))).hexdigest()
    if not (isinstance(url_hash, str) and same(url_hash.lower(), expected_url)):
        return fail("JWT url_hash does not match the URL")
    payload_hash = claims.get("payload_hash")
    if not request.body:
        return OK if payload_hash is None else fail("JWT payload_hash is set but there is no body")
    if not (
        isinstance(payload_hash, str)
        and same(payload_hash.lower(), hashlib.sha256(request.body).hexdigest())
    ):
        return fail("JWT payload_hash does not match the body")
    return OK


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def verify_bird(
    request: RawRequest, secrets: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """`messagebird-signature` over timestamp, URL and body hash; the timestamp in tolerance."""
    if not secrets:
        return NO_SECRETS
    signature = request.header("messagebird-signature")
    stamp = request.header("messagebird-request-timestamp")
    if signature is None or stamp is None:
        return fail("missing messagebird-signature or messagebird-request-timestamp")
    if context.public_url is None:
        return NO_PUBLIC_URL
    when = unix(stamp)
    if when is None:
        return fail("messagebird-request-timestamp is not a timestamp")
    if reason := stale(when, context, "messagebird-request-timestamp"):
        return fail(reason)
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return fail("messagebird-signature is not base64")
    url = signed_url(context.public_url, request)
    message = utf8(f"{stamp}\n{url}\n") + hashlib.sha256(request.body).digest()
    for secret in secrets:
        expected = hmac_digest(secret, message)
        if same(given.hex(), expected.hex()):
            return OK
    return fail("messagebird-signature does not match")
