"""Test requests signed as the providers sign them, with the providers' own SDKs wherever
one exists on PyPI (dev extras only: production code never imports them).

Where an SDK only verifies (Telnyx, MessageBird, Plivo V2), the request is signed here and the
SDK's verifier is asked to accept it too, so a mistake in our signing cannot hide a mistake in
our verifier. Bird's platform signature has no SDK: it follows Bird's published steps.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
import nacl.encoding
import nacl.signing
from messagebird.request_validator import RequestValidator as MessageBirdValidator
from plivo.utils import signature_v3 as plivo_v3_sdk
from plivo.utils import validate_signature as plivo_validate_v2
from standardwebhooks.webhooks import Webhook as StandardWebhook
from svix.webhooks import Webhook as SvixWebhook
from telnyx.lib.webhook_verification import verify_webhook_signature as telnyx_verify
from twilio.request_validator import RequestValidator as TwilioValidator

SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def standard_webhooks_headers(
    body: bytes, stamp: int, msg_id: str = "msg_1", secret: str = SW_SECRET
) -> dict[str, str]:
    signature = StandardWebhook(secret).sign(
        msg_id, datetime.fromtimestamp(stamp, UTC), body.decode()
    )
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp), "webhook-signature": signature}


def svix_headers(
    body: bytes, stamp: int, msg_id: str = "msg_1", secret: str = SW_SECRET
) -> dict[str, str]:
    signature = SvixWebhook(secret).sign(msg_id, datetime.fromtimestamp(stamp, UTC), body.decode())
    headers = {"svix-id": msg_id, "svix-timestamp": str(stamp), "svix-signature": signature}
    if abs(time.time() - stamp) < 300:  # Svix's SDK checks against the real clock
        SvixWebhook(secret).verify(body, dict(headers))
    return headers


def twilio_signature(
    token: str, url: str, params: dict[str, str] | None = None, algorithm: str | None = None
) -> str:
    """`X-Twilio-Signature` for `url` (with the query Twilio adds) and form `params`."""
    validator = TwilioValidator(token)
    signature: str = validator.compute_signature(url, params or {}, algorithm)
    assert validator.validate(url, params or {}, signature, algorithm)
    return signature


def twilio_json_signature(token: str, url: str, body: bytes, algorithm: str | None = None) -> str:
    """Twilio's JSON callbacks: `bodySHA256` appended to the URL, the whole URL signed."""
    validator = TwilioValidator(token)
    signature: str = validator.compute_signature(url, {}, algorithm)
    assert validator.validate(url, body.decode(), signature, algorithm)
    return signature


def plivo_v3_headers(
    token: str, method: str, url: str, params: dict[str, str], nonce: str | None = None
) -> dict[str, str]:
    """`X-Plivo-Signature-V3` as Plivo's SDK computes it, and V2 beside it (Plivo sends both)."""
    nonce = nonce or uuid.uuid4().hex
    build = plivo_v3_sdk.construct_get_url if method == "GET" else plivo_v3_sdk.construct_post_url
    base = build(url, dict(params)).decode()
    v3 = plivo_v3_sdk.get_signature_v3(token.encode(), base, nonce.encode()).decode()
    assert plivo_v3_sdk.validate_v3_signature(method, url, nonce, token, v3, dict(params))
    return {
        "X-Plivo-Signature-V3": v3,
        "X-Plivo-Signature-V3-Nonce": nonce,
        **plivo_v2_headers(token, url, nonce),
    }


def plivo_v2_headers(token: str, url: str, nonce: str) -> dict[str, str]:
    base = url.split("?", 1)[0]
    v2 = base64.b64encode(hmac.new(token.encode(), (base + nonce).encode(), "sha256").digest())
    assert plivo_validate_v2(url, nonce, v2.decode(), token)
    return {"X-Plivo-Signature-V2": v2.decode(), "X-Plivo-Signature-V2-Nonce": nonce}


class TelnyxKey:
    """An Ed25519 key pair standing in for Telnyx's (only its public half is configured)."""

    def __init__(self, seed: bytes | None = None) -> None:
        self._key = nacl.signing.SigningKey(seed or nacl.signing.SigningKey.generate().encode())
        self.public = self._key.verify_key.encode(nacl.encoding.Base64Encoder).decode()

    def headers(self, body: bytes, stamp: int) -> dict[str, str]:
        signed = self._key.sign(f"{stamp}|".encode() + body).signature
        headers = {
            "telnyx-signature-ed25519": base64.b64encode(signed).decode(),
            "telnyx-timestamp": str(stamp),
        }
        if abs(time.time() - stamp) < 300:  # Telnyx's SDK checks against the real clock
            telnyx_verify(body, headers, self.public)
        return headers


def messagebird_jwt(
    key: str, url: str, body: bytes, now: float, lifetime: int = 60, **claims: Any
) -> str:
    """`MessageBird-Signature-JWT` for a request to `url` (query included) with `body`."""
    payload: dict[str, Any] = {
        "iss": "MessageBird",
        "nbf": int(now),
        "exp": int(now) + lifetime,
        "jti": uuid.uuid4().hex,
        "url_hash": hashlib.sha256(url.encode()).hexdigest(),
    }
    if body:
        payload["payload_hash"] = hashlib.sha256(body).hexdigest()
    payload.update(claims)
    token = jwt.encode(payload, key, algorithm="HS256")
    if abs(time.time() - now) < 1 and not claims:
        MessageBirdValidator(key).validate_signature(token, url, body)
    return token


def bird_headers(key: str, url: str, body: bytes, stamp: int) -> dict[str, str]:
    """Bird's published steps: HMAC-SHA256 of "ts\\nURL\\n" + the body's binary SHA-256."""
    message = f"{stamp}\n{url}\n".encode() + hashlib.sha256(body).digest()
    signature = base64.b64encode(hmac.new(key.encode(), message, "sha256").digest()).decode()
    return {"messagebird-signature": signature, "messagebird-request-timestamp": str(stamp)}
