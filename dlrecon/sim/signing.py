"""Sign simulated callbacks as the provider would, with the key's configured credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from dlrecon.sim.model import Request
from receiver.settings import ProviderSettings
from receiver.verification import PATH_TOKEN_PARAM

SCHEMES = ("hellio", "twilio", "vonage", "meta", "standard-webhooks")


@dataclass(frozen=True, slots=True)
class Signed:
    """A request ready to send: method, encoded query string, headers, body."""

    method: str
    query: str
    headers: dict[str, str]
    body: bytes


def _encode(pairs: list[tuple[str, str]]) -> str:
    return urlencode(pairs, quote_via=quote)


def unsupported(provider: ProviderSettings, scheme: str | None) -> str | None:
    """Why callbacks for this key cannot be signed validly, or None."""
    if provider.signing_secrets:
        if scheme not in SCHEMES:
            return f"signature scheme {scheme!r} is not supported by the simulator"
        if scheme == "twilio" and not provider.public_url:
            return "twilio signing needs public_url"
    return None


def sign(
    request: Request,
    provider: ProviderSettings,
    scheme: str | None,
    now: float,
    nonce: str,
) -> Signed:
    """Add path token, HTTP Basic and the scheme's signature to `request`."""
    query = list(request.query)
    if provider.path_token is not None:
        query.append((PATH_TOKEN_PARAM, provider.path_token.get_secret_value()))
    form = list(request.form) if request.form is not None else None
    headers = dict(request.headers)
    if request.content_type:
        headers["Content-Type"] = request.content_type
    if provider.basic_auth is not None:
        user = provider.basic_auth.user
        password = provider.basic_auth.password.get_secret_value()
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    secrets = [s.get_secret_value() for s in provider.signing_secrets]
    secret = secrets[-1] if secrets else None  # the newest: any configured one verifies
    stamp = str(int(now))
    if secret is not None and scheme == "vonage":
        form = [*(form or []), ("timestamp", stamp)]
        form.append(("sig", vonage_sig(query + form, secret, provider)))
    body = _encode(form).encode() if form is not None else request.body
    query_string = _encode(query)
    if secret is not None:
        headers.update(_headers(scheme, secret, body, stamp, nonce, query_string, form, provider))
    return Signed(request.method, query_string, headers, body)


def _headers(
    scheme: str | None,
    secret: str,
    body: bytes,
    stamp: str,
    nonce: str,
    query: str,
    form: list[tuple[str, str]] | None,
    provider: ProviderSettings,
) -> dict[str, str]:
    if scheme == "hellio":
        return {
            "X-Hellio-Signature": _hex(secret.encode(), body),
            "X-Hellio-Timestamp": stamp,
            "X-Hellio-Signature-V2": _hex(secret.encode(), stamp.encode() + b"." + body),
        }
    if scheme == "meta":
        return {"X-Hub-Signature-256": "sha256=" + _hex(secret.encode(), body)}
    if scheme == "twilio":
        return {"X-Twilio-Signature": twilio_signature(secret, provider, query, form)}
    if scheme == "standard-webhooks":
        key = base64.b64decode(_padded(secret.strip().removeprefix("whsec_")))
        digest = hmac.new(key, f"{nonce}.{stamp}.".encode() + body, "sha256").digest()
        return {
            "webhook-id": nonce,
            "webhook-timestamp": stamp,
            "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        }
    return {}


def _hex(key: bytes, message: bytes, digest: str = "sha256") -> str:
    return hmac.new(key, message, digest).hexdigest()


def _padded(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def twilio_signature(
    secret: str, provider: ProviderSettings, query: str, form: list[tuple[str, str]] | None
) -> str:
    """b64 HMAC-SHA1 over the URL called (the public URL's scheme, host and path, and the
    query we send) and the sorted form params."""
    url = (provider.public_url or "").split("?", 1)[0]
    if query:
        url = f"{url}?{query}"
    values: dict[str, set[str]] = {}
    for name, value in form or []:
        values.setdefault(name, set()).add(value)
    params = "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    digest = hmac.new(secret.encode(), (url + params).encode(), "sha1").digest()
    return base64.b64encode(digest).decode()


def vonage_sig(params: list[tuple[str, str]], secret: str, provider: ProviderSettings) -> str:
    """The SMS API `sig`: sorted `&key=value` (`&`/`=` in values as `_`), hashed per method."""
    merged = dict(params)
    merged.pop("sig", None)
    signed = "".join(
        f"&{k}={v.replace('&', '_').replace('=', '_')}" for k, v in sorted(merged.items())
    ).encode()
    method = str(provider.options().get("signature_method") or "md5hash")
    if method == "md5hash":
        return hashlib.md5(signed + secret.encode()).hexdigest()  # noqa: S324 - Vonage's scheme
    return _hex(secret.encode(), signed, method)
