"""Vonage: the SMS API `sig` parameter and the Messages API `Authorization: Bearer` JWT."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

import jwt

from receiver.model import RawRequest
from receiver.signatures.common import (
    NO_SECRETS,
    OK,
    SignatureContext,
    SignatureResult,
    fail,
    hmac_hex,
    jwt_claims,
    same,
    stale,
    unix,
)

METHODS = ("md5hash", "md5", "sha1", "sha256", "sha512")


def verify_vonage(
    request: RawRequest, secrets: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """Messages API `Authorization: Bearer` JWT when present, else the SMS API `sig` param."""
    if not secrets:
        return NO_SECRETS
    authorization = request.header("authorization") or ""
    if authorization[:7].lower() == "bearer ":
        return _vonage_jwt(authorization[7:].strip(), request.body, secrets, context)
    return _vonage_sig(request, secrets, context)


def _vonage_sig(
    request: RawRequest, secrets: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """SMS API: digest over "&key=value" of the sorted params without `sig`."""
    method = str(context.options.get("signature_method") or "md5hash")
    if method not in METHODS:
        return fail(f"unknown signature_method {method!r}")
    params = _vonage_params(request)
    if params is None:
        return fail("body cannot be decoded")
    signature = params.pop("sig", None)
    if signature is None:
        return fail("missing sig parameter (and no Bearer token)")
    stamp = params.get("timestamp")
    if stamp is None:
        return fail("missing timestamp parameter")
    when = unix(stamp)
    if when is None:
        return fail("timestamp parameter is not a unix time")
    if reason := stale(when, context):
        return fail(reason)
    # '&' and '=' inside values would make the string ambiguous: Vonage replaces them with '_'
    signed = "".join(
        f"&{key}={value.replace('&', '_').replace('=', '_')}"
        for key, value in sorted(params.items())
    ).encode("utf-8", "surrogatepass")
    for secret in secrets:
        if method == "md5hash":
            # Vonage's "md5hash" method is plain MD5 of string + secret: weak, but it is theirs
            expected = hashlib.md5(signed + secret.encode("utf-8", "surrogatepass")).hexdigest()  # noqa: S324
        else:
            expected = hmac_hex(secret, signed, method)
        if same(signature.strip().lower(), expected):
            return OK
    return fail("sig does not match")


def _vonage_params(request: RawRequest) -> dict[str, str] | None:
    """Query params, overridden by the body's (JSON object or form); None when undecodable."""
    params = dict(request.query)
    body = request.body.strip()
    if not body:
        return params
    try:
        text = body.decode("utf-8")
        if "json" in request.content_type.lower() or body[:1] == b"{":
            decoded = json.loads(text)
            if not isinstance(decoded, dict):
                return None
            params.update({str(k): _vonage_value(v) for k, v in decoded.items()})
        else:
            params.update(parse_qsl(text, keep_blank_values=True))
    except (
        ValueError,
        RecursionError,
    ):  # UnicodeDecodeError and JSONDecodeError included
        return None
    return params


def _vonage_value(value: Any) -> str:
    """A JSON value as Vonage formats it in the signed string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _vonage_jwt(
    token: str, body: bytes, secrets: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """Messages API: HS256 JWT over the signature secret; `payload_hash` binds it to the body."""
    claims: dict[str, Any] | None = None
    for secret in secrets:
        try:
            claims = jwt_claims(token, secret, ["HS256"])
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError:
            return fail("Bearer token is not a valid JWT")
    if claims is None:
        return fail("JWT signature does not match")
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        return fail("JWT has no numeric iat")
    if reason := stale(float(iat), context, "JWT iat"):
        return fail(reason)
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool) and exp < context.now:
        return fail("JWT has expired")
    payload_hash = claims.get("payload_hash")
    if payload_hash is None:
        # without it the token vouches for no body: a captured token could carry any body
        # for as long as iat is within the tolerance
        if context.options.get("require_payload_hash", True):
            return fail("JWT has no payload_hash")
        return OK
    if not (
        isinstance(payload_hash, str)
        and same(payload_hash.lower(), hashlib.sha256(body).hexdigest())
    ):
        return fail("JWT payload_hash does not match the body")
    return OK
