"""Plivo: `X-Plivo-Signature-V3` (URL, sorted parameters and a nonce), V2 (URL and nonce) on
request. Both are base64 HMAC-SHA256 with the (sub)account Auth Token; neither has a time."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from receiver.model import RawRequest
from receiver.signatures.common import (
    NO_PUBLIC_URL,
    NO_SECRETS,
    OK,
    SignatureContext,
    SignatureResult,
    fail,
    hmac_digest,
    same,
    signed_url,
    utf8,
)

VERSIONS = ("v3", "v2")  # the first is the default: V2 signs no parameter at all

Params = dict[str, list[str]]


def verify_plivo(
    request: RawRequest, secrets: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """V3 (`X-Plivo-Signature-V3` + `-V3-Nonce`); V2 only when the key accepts it and no V3
    signature was sent. The header may list several signatures, comma-separated."""
    if not secrets:
        return NO_SECRETS
    if context.public_url is None:
        return NO_PUBLIC_URL
    v3 = request.header("x-plivo-signature-v3")
    if v3 is not None:
        nonce = request.header("x-plivo-signature-v3-nonce")
        if nonce is None:
            return fail("X-Plivo-Signature-V3 without X-Plivo-Signature-V3-Nonce")
        try:
            base = v3_base(request, signed_url(context.public_url, request))
        except (UnicodeDecodeError, ValueError):
            return fail("form body is not UTF-8 form data")
        return _match(v3, utf8(f"{base}.{nonce}"), secrets, "X-Plivo-Signature-V3")
    if str(context.options.get("signature_version") or VERSIONS[0]) != "v2":
        return fail('missing X-Plivo-Signature-V3 (V2 alone needs signature_version = "v2")')
    v2 = request.header("x-plivo-signature-v2")
    nonce = request.header("x-plivo-signature-v2-nonce")
    if v2 is None or nonce is None:
        return fail("missing X-Plivo-Signature-V2 or X-Plivo-Signature-V2-Nonce")
    base = urlunsplit(urlsplit(context.public_url)._replace(query="", fragment=""))
    return _match(v2, utf8(base + nonce), secrets, "X-Plivo-Signature-V2")


def _match(header: str, message: bytes, secrets: Sequence[str], name: str) -> SignatureResult:
    given = [part.strip() for part in header.split(",") if part.strip()]
    for secret in secrets:
        expected = base64.b64encode(hmac_digest(secret, message)).decode("ascii")
        if any(same(value, expected) for value in given):
            return OK
    return fail(f"{name} does not match")


def v3_base(request: RawRequest, url: str) -> str:
    """What V3 signs before ".nonce", as Plivo's SDKs build it: the URL without its query, then
    `?` and the query parameters sorted (`k=v&…`); for a POST with form parameters, a `.` after
    a non-empty query, then the form parameters sorted and concatenated (`kvkv…`)."""
    parts = urlsplit(url)
    base = urlunsplit(parts._replace(query="", fragment=""))
    query = _sorted_query(_collect(parse_qsl(parts.query, keep_blank_values=True)))
    form: Params = {}
    if request.method.upper() != "GET" and "x-www-form-urlencoded" in request.content_type:
        text = request.body.decode("utf-8")
        form = _collect(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
    if not form:
        return f"{base}?{query}" if query else base
    return f"{base}?{query}{'.' if query else ''}" + "".join(
        name + value for name in sorted(form) for value in sorted(form[name])
    )


def _collect(pairs: list[tuple[str, str]]) -> Params:
    params: Params = {}
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    return params


def _sorted_query(params: Params) -> str:
    return "&".join(f"{name}={value}" for name in sorted(params) for value in sorted(params[name]))
