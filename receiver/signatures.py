"""Callback signature verification: pure functions, constant-time comparisons, no I/O.

Each scheme takes the stored request, the key's `signing_secrets` (any match verifies, for
rotation) and a context carrying the clock, the timestamp tolerance, the public URL the
provider signed and scheme options. Reasons never contain secrets or expected signatures.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import jwt

from receiver.model import RawRequest


@dataclass(frozen=True, slots=True)
class SignatureContext:
    """What a verifier may know besides the request: passed in, so verifiers stay pure."""

    now: float  # unix time
    tolerance_seconds: int = 300  # timestamp tolerance, both directions, where a scheme has one
    public_url: str | None = None  # the URL the provider signed (Twilio)
    options: Mapping[str, Any] = field(default_factory=dict)  # e.g. vonage signature_method


@dataclass(frozen=True, slots=True)
class SignatureResult:
    """Whether the request verified, and why not (never containing a secret)."""

    ok: bool
    reason: str  # "ok" or why it failed


Verifier = Callable[[RawRequest, Sequence[str], SignatureContext], SignatureResult]

OK = SignatureResult(True, "ok")
NO_SECRETS = SignatureResult(False, "no signing secrets configured")
VONAGE_METHODS = ("md5hash", "md5", "sha1", "sha256", "sha512")


def _fail(reason: str) -> SignatureResult:
    return SignatureResult(False, reason)


def same(given: str, expected: str) -> bool:
    """Constant-time equality of two strings. Header bytes that were not UTF-8 arrive as lone
    surrogates; `surrogatepass` encodes them too, so no input can raise."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def _hmac_hex(secret: str | bytes, message: bytes, digest: str = "sha256") -> str:
    key = secret.encode("utf-8", "surrogatepass") if isinstance(secret, str) else secret
    return hmac.new(key, message, digest).hexdigest()


def _unix(value: str) -> float | None:
    """A unix time in seconds (milliseconds accepted) or ISO 8601; None when neither."""
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 16:
        number = int(value)
        return number / 1000 if number > 10**11 else float(number)
    try:
        return _aware(datetime.fromisoformat(value)).timestamp()
    except ValueError:
        return None


def _aware(moment: datetime) -> datetime:
    """Naive times are UTC (never the host's zone: verifiers are pure)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stale(when: float, context: SignatureContext, what: str = "timestamp") -> str | None:
    """Why `when` is outside the tolerance (replay protection), or None when it is fine."""
    if when < context.now - context.tolerance_seconds:
        return f"{what} is older than {context.tolerance_seconds}s"
    if when > context.now + context.tolerance_seconds:
        return f"{what} is more than {context.tolerance_seconds}s in the future"
    return None


# ---- hellio ---------------------------------------------------------------------------------


def verify_hellio(
    request: RawRequest, secrets: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """V2 (`X-Hellio-Timestamp` + `X-Hellio-Signature-V2` over "ts.body") when sent, else V1."""
    if not secrets:
        return NO_SECRETS
    v2 = request.header("x-hellio-signature-v2")
    if v2 is not None:
        # a V2 signature present means V2 must hold: falling back to V1 would drop replay protection
        stamp = request.header("x-hellio-timestamp")
        if stamp is None:
            return _fail("X-Hellio-Signature-V2 without X-Hellio-Timestamp")
        when = _unix(stamp)
        if when is None:
            return _fail("X-Hellio-Timestamp is not a timestamp")
        if stale := _stale(when, context, "X-Hellio-Timestamp"):
            return _fail(stale)
        message = stamp.encode("utf-8", "surrogatepass") + b"." + request.body
        if any(same(v2.strip().lower(), _hmac_hex(s, message)) for s in secrets):
            return OK
        return _fail("X-Hellio-Signature-V2 does not match")
    v1 = request.header("x-hellio-signature")
    if v1 is None:
        return _fail("missing X-Hellio-Signature")
    if any(same(v1.strip().lower(), _hmac_hex(s, request.body)) for s in secrets):
        return OK
    return _fail("X-Hellio-Signature does not match")


# ---- twilio ---------------------------------------------------------------------------------


def verify_twilio(
    request: RawRequest, secrets: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """`X-Twilio-Signature`: b64 HMAC-SHA1 of public URL + sorted form params (or bodySHA256)."""
    if not secrets:
        return NO_SECRETS
    signature = request.header("x-twilio-signature")
    if signature is None:
        return _fail("missing X-Twilio-Signature")
    if context.public_url is None:
        return _fail("public_url not configured")
    url = _twilio_url(context.public_url, request.query, request.raw_query)
    signed_query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    if "bodySHA256" in signed_query:
        # JSON bodies: the URL carries the body hash and the params are not appended
        if not same(signed_query["bodySHA256"].lower(), hashlib.sha256(request.body).hexdigest()):
            return _fail("bodySHA256 does not match the body")
        params = ""
    else:
        try:
            params = _twilio_params(request)
        except UnicodeDecodeError:
            return _fail("form body is not UTF-8")
    for candidate in _port_variants(url):
        message = (candidate + params).encode("utf-8", "surrogatepass")
        for secret in secrets:
            digest = hmac.new(secret.encode("utf-8", "surrogatepass"), message, "sha1").digest()
            if same(signature.strip(), base64.b64encode(digest).decode("ascii")):
                return OK
    return _fail("X-Twilio-Signature does not match")


def _twilio_url(public_url: str, query: tuple[tuple[str, str], ...], raw_query: str) -> str:
    """The signed URL: the configured one, plus the request's query when it has none itself."""
    if "?" in public_url or not (query or raw_query):
        return public_url
    if raw_query:
        return f"{public_url}?{raw_query}"
    # RawRequest keeps decoded pairs only, so the query is re-encoded (RFC 3986 style)
    return public_url + "?" + urlencode(list(query), quote_via=quote)


def _twilio_params(request: RawRequest) -> str:
    """Form params sorted by name, each name's values sorted and deduplicated, concatenated."""
    if "x-www-form-urlencoded" not in request.content_type.lower():
        return ""
    values: dict[str, set[str]] = {}
    for name, value in parse_qsl(request.body.decode("utf-8"), keep_blank_values=True):
        values.setdefault(name, set()).add(value)
    return "".join(name + value for name in sorted(values) for value in sorted(values[name]))


def _port_variants(url: str) -> Iterator[str]:
    """The URL as given, and with/without its default port: Twilio's own validator tries both."""
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


# ---- vonage ---------------------------------------------------------------------------------


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
    if method not in VONAGE_METHODS:
        return _fail(f"unknown signature_method {method!r}")
    params = _vonage_params(request)
    if params is None:
        return _fail("body cannot be decoded")
    signature = params.pop("sig", None)
    if signature is None:
        return _fail("missing sig parameter (and no Bearer token)")
    stamp = params.get("timestamp")
    if stamp is None:
        return _fail("missing timestamp parameter")
    when = _unix(stamp)
    if when is None:
        return _fail("timestamp parameter is not a unix time")
    if stale := _stale(when, context):
        return _fail(stale)
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
            expected = _hmac_hex(secret, signed, method)
        if same(signature.strip().lower(), expected):
            return OK
    return _fail("sig does not match")


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
            claims = _jwt_claims(token, secret)
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError:
            return _fail("Bearer token is not a valid JWT")
    if claims is None:
        return _fail("JWT signature does not match")
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        return _fail("JWT has no numeric iat")
    if stale := _stale(float(iat), context, "JWT iat"):
        return _fail(stale)
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool) and exp < context.now:
        return _fail("JWT has expired")
    payload_hash = claims.get("payload_hash")
    if payload_hash is None:
        # without it the token vouches for no body: a captured token could carry any body
        # for as long as iat is within the tolerance
        if context.options.get("require_payload_hash", True):
            return _fail("JWT has no payload_hash")
        return OK
    if not (
        isinstance(payload_hash, str)
        and same(payload_hash.lower(), hashlib.sha256(body).hexdigest())
    ):
        return _fail("JWT payload_hash does not match the body")
    return OK


def _jwt_claims(token: str, secret: str) -> dict[str, Any]:
    """Decode an HS256 JWT, checking only the signature (times are checked against context.now)."""
    with warnings.catch_warnings():
        # the secret's length is the provider's choice; warning on every callback helps no one
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )


# ---- meta -----------------------------------------------------------------------------------


def verify_meta(
    request: RawRequest, secrets: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`."""
    if not secrets:
        return NO_SECRETS
    header = request.header("x-hub-signature-256")
    if header is None:
        return _fail("missing X-Hub-Signature-256")
    prefix, _, given = header.strip().partition("=")
    if prefix.lower() != "sha256" or not given:
        return _fail("X-Hub-Signature-256 is not 'sha256=<hex>'")
    if any(same(given.lower(), _hmac_hex(s, request.body)) for s in secrets):
        return OK
    return _fail("X-Hub-Signature-256 does not match")


# ---- standard webhooks ----------------------------------------------------------------------


def verify_standard_webhooks(
    request: RawRequest, secrets: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """`webhook-signature` "v1,<b64 HMAC-SHA256(key, id.timestamp.body)>" entries, any may match."""
    if not secrets:
        return NO_SECRETS
    msg_id = request.header("webhook-id")
    stamp = request.header("webhook-timestamp")
    signatures = request.header("webhook-signature")
    missing = [
        name
        for name, value in (
            ("webhook-id", msg_id),
            ("webhook-timestamp", stamp),
            ("webhook-signature", signatures),
        )
        if value is None
    ]
    if missing or msg_id is None or stamp is None or signatures is None:
        return _fail(f"missing {', '.join(missing)}")
    stamp = stamp.strip()
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        return _fail("webhook-timestamp is not a unix time")
    if stale := _stale(float(stamp), context, "webhook-timestamp"):
        return _fail(stale)
    message = f"{msg_id}.{stamp}.".encode("utf-8", "surrogatepass") + request.body
    given = [
        value
        for version, _, value in (e.partition(",") for e in signatures.split())
        if version == "v1"
    ]
    if not given:
        return _fail("webhook-signature has no v1 entry")
    keys = [key for key in map(_standard_webhooks_key, secrets) if key is not None]
    if not keys:
        return _fail("no signing secret is valid base64")
    for key in keys:
        expected = base64.b64encode(hmac.new(key, message, "sha256").digest()).decode("ascii")
        if any(same(value, expected) for value in given):
            return OK
    return _fail("webhook-signature does not match")


def _standard_webhooks_key(secret: str) -> bytes | None:
    """The HMAC key: base64 after an optional `whsec_` prefix (missing padding tolerated)."""
    encoded = secret.strip().removeprefix("whsec_")
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


SCHEMES: dict[str, Verifier] = {
    "hellio": verify_hellio,
    "twilio": verify_twilio,
    "vonage": verify_vonage,
    "meta": verify_meta,
    "standard-webhooks": verify_standard_webhooks,
}


def verify(
    scheme: str, request: RawRequest, secrets: Sequence[str], context: SignatureContext
) -> SignatureResult:
    """Verify `request` with the named scheme; an unknown scheme fails with its reason."""
    verifier = SCHEMES.get(scheme)
    if verifier is None:
        return _fail(f"unknown signature scheme {scheme!r}")
    return verifier(request, secrets, context)
