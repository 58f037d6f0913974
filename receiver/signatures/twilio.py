"""Twilio: `X-Twilio-Signature`, HMAC-SHA1 with the Auth Token or, when the request carries
`X-Twilio-Webhooks-Signature-Settings: key=…,algorithm=HMAC_SHA256`, HMAC-SHA256 with a
SharedKey secret; both over the URL Twilio called plus the sorted form parameters."""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Iterator, Sequence
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from receiver import querystrings
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
    url_base,
    utf8,
)

ALGORITHMS = {"HMAC_SHA1": "sha1", "HMAC_SHA256": "sha256"}
_NAME = re.compile(r"[A-Z0-9_]{1,32}")


def verify_twilio(
    request: RawRequest, secrets: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """b64 HMAC of URL + sorted form params (JSON bodies: the URL's `bodySHA256` instead)."""
    if not secrets:
        return NO_SECRETS
    signature = request.header("x-twilio-signature")
    if signature is None:
        return fail("missing X-Twilio-Signature")
    if context.public_url is None:
        return NO_PUBLIC_URL
    algorithm = _algorithm(request.header("x-twilio-webhooks-signature-settings"))
    digest = ALGORITHMS.get(algorithm)
    if digest is None:
        # echoed only when it looks like an algorithm name: reasons reach the logs
        named = repr(algorithm) if _NAME.fullmatch(algorithm) else "(not a name)"
        return fail(f"unsupported X-Twilio-Webhooks-Signature-Settings algorithm {named}")
    url = signed_url(context.public_url, request)
    base = url_base(context.public_url)
    query = url[len(base) :]
    # the query is parsed only when it may name `bodySHA256` (the usual form callback has no
    # query at all); an escaped name is decoded by the parse, so any '%' means parsing
    signed_query = (
        dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        if "bodySHA256" in query or "%" in query
        else {}
    )
    if "bodySHA256" in signed_query:
        # JSON bodies: the URL carries the body hash and the params are not appended
        if not same(signed_query["bodySHA256"].lower(), hashlib.sha256(request.body).hexdigest()):
            return fail("bodySHA256 does not match the body")
        params = ""
    else:
        try:
            params = _params(request)
        except UnicodeDecodeError:
            return fail("form body is not UTF-8")
    for candidate in _port_variants(base):
        message = utf8(candidate + query + params)
        for secret in secrets:
            expected = base64.b64encode(hmac_digest(secret, message, digest)).decode("ascii")
            if same(signature.strip(), expected):
                return OK
    return fail("X-Twilio-Signature does not match")


def _algorithm(settings: str | None) -> str:
    """The `algorithm=` of the signature settings header; HMAC_SHA1 when absent (legacy)."""
    for part in (settings or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip().lower() == "algorithm" and value.strip():
            return value.strip().upper()
    return "HMAC_SHA1"


def _params(request: RawRequest) -> str:
    """Form params sorted by name, each name's values sorted and deduplicated, concatenated."""
    if "x-www-form-urlencoded" not in request.content_type.lower():
        return ""
    found = querystrings.pairs(request.body.decode("utf-8"))
    if len({name for name, _ in found}) == len(found):
        # the usual form, each name once: sorting the pairs sorts by name
        return "".join(name + value for name, value in sorted(found))
    values: dict[str, set[str]] = {}
    for name, value in found:
        values.setdefault(name, set()).add(value)
    return "".join(name + value for name in sorted(values) for value in sorted(values[name]))


@functools.lru_cache(maxsize=256)
def _port_variants(url: str) -> tuple[str, ...]:
    """The URL as given, and with/without its default port: Twilio's own validator tries both.
    Called with the key's base URL (a constant: worked out once); the query follows it."""
    return tuple(_variants(url))


def _variants(url: str) -> Iterator[str]:
    yield url
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    if default is None:
        return
    if port is None:
        yield urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default}"))
    elif port == default:
        yield urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0]))
