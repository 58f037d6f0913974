"""What every verification scheme shares: the context, the result, constant-time comparison,
timestamps and the replay window, and the URL a provider signed."""

from __future__ import annotations

import functools
import hmac
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import jwt

from receiver.model import RawRequest


@dataclass(frozen=True, slots=True)
class SignatureContext:
    """What a verifier may know besides the request: passed in, so verifiers stay pure."""

    now: float  # unix time
    tolerance_seconds: int = 300  # timestamp tolerance, both directions, where a scheme has one
    public_url: str | None = None  # the URL the provider calls (schemes that sign the URL)
    options: Mapping[str, Any] = field(default_factory=dict)  # e.g. vonage signature_method


@dataclass(frozen=True, slots=True)
class SignatureResult:
    """Whether the request verified, and why not (never containing a secret)."""

    ok: bool
    reason: str  # "ok" or why it failed


Verifier = Callable[[RawRequest, Sequence[str], SignatureContext], SignatureResult]

OK = SignatureResult(True, "ok")
NO_SECRETS = SignatureResult(False, "no signing secrets configured")
NO_PUBLIC_URL = SignatureResult(False, "public_url not configured")


def fail(reason: str) -> SignatureResult:
    return SignatureResult(False, reason)


def same(given: str, expected: str) -> bool:
    """Constant-time equality of two strings. Header bytes that were not UTF-8 arrive as lone
    surrogates; `surrogatepass` encodes them too, so no input can raise."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def utf8(text: str) -> bytes:
    """Text as the bytes a provider signed (never raising on lone surrogates)."""
    return text.encode("utf-8", "surrogatepass")


def hmac_hex(secret: str | bytes, message: bytes, digest: str = "sha256") -> str:
    key = utf8(secret) if isinstance(secret, str) else secret
    return hmac.new(key, message, digest).hexdigest()


def hmac_digest(secret: str | bytes, message: bytes, digest: str = "sha256") -> bytes:
    key = utf8(secret) if isinstance(secret, str) else secret
    return hmac.new(key, message, digest).digest()


def unix(value: str) -> float | None:
    """A unix time in seconds (milliseconds accepted) or ISO 8601; None when neither."""
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 16:
        number = int(value)
        return number / 1000 if number > 10**11 else float(number)
    try:
        return _aware(datetime.fromisoformat(value)).timestamp()
    except ValueError:
        return None


def unix_seconds(value: str) -> float | None:
    """Whole unix seconds only (ASCII digits), as Standard Webhooks, Svix and Telnyx send."""
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 12:
        return float(value)
    return None


def _aware(moment: datetime) -> datetime:
    """Naive times are UTC (never the host's zone: verifiers are pure)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def stale(when: float, context: SignatureContext, what: str = "timestamp") -> str | None:
    """Why `when` is outside the tolerance (replay protection), or None when it is fine."""
    if when < context.now - context.tolerance_seconds:
        return f"{what} is older than {context.tolerance_seconds}s"
    if when > context.now + context.tolerance_seconds:
        return f"{what} is more than {context.tolerance_seconds}s in the future"
    return None


@functools.lru_cache(maxsize=256)
def url_base(public_url: str) -> str:
    """Scheme, host and path of `public_url`: a key's constant, parsed once, not per request."""
    return urlunsplit(urlsplit(public_url)._replace(query="", fragment=""))


def signed_url(public_url: str, request: RawRequest) -> str:
    """The URL the provider called: scheme, host and path of `public_url` (a proxy may change
    ours), and the query string the request actually arrived with (a provider appends its own
    parameters, such as Twilio's `bodySHA256`, to whatever query `public_url` has)."""
    base = url_base(public_url)
    if request.raw_query:
        return f"{base}?{request.raw_query}"
    if request.query:
        # a RawRequest built without its raw query: re-encoded (RFC 3986 style)
        return base + "?" + urlencode(list(request.query), quote_via=quote)
    return base


def jwt_claims(token: str, secret: str, algorithms: Sequence[str]) -> dict[str, Any]:
    """Decode a JWT checking only its signature: its times are checked against the context's
    clock by the caller (verifiers take no clock of their own). Raises `jwt.PyJWTError`."""
    with warnings.catch_warnings():
        # the key's length is the provider's choice; warning on every callback helps no one
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.decode(
            token,
            secret,
            algorithms=list(algorithms),
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
