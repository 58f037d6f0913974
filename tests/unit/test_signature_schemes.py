"""The schemes of issue 15 (Svix, Twilio HMAC-SHA256, Plivo, Telnyx, MessageBird, Bird) with
requests signed by the providers' SDKs (tests/support/sdk_signing.py) and published vectors: each
verifies, and a forged, tampered, replayed or stale one does not."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from receiver.model import RawRequest
from receiver.signatures import SignatureContext, verify
from tests import support
from tests.support import sdk_signing
from tests.unit.test_signatures import assert_tamper_fails, flip_text, request, with_header

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
NOW = 1_760_000_000
CONTEXT = SignatureContext(now=NOW)


def at(
    url: str, headers: dict[str, str], body: bytes, content_type: str, method: str = "POST"
) -> RawRequest:
    """The request as it reaches us at `url` (its query is the request's)."""
    query = urlsplit(url).query
    return replace(
        request(headers, body, parse_qsl(query, keep_blank_values=True), content_type, method),
        raw_query=query,
    )


# ---- svix --------------------------------------------------------------------------------------

SW_BODY = b'{"id": "SVX-1", "status": "delivered"}'


def test_svix_sdk_signature_verifies() -> None:
    headers = sdk_signing.svix_headers(SW_BODY, NOW)
    req = request(headers, SW_BODY, content_type=JSON)
    assert_tamper_fails("svix", req, sdk_signing.SW_SECRET, CONTEXT, "svix-signature")
    # the same construction as Standard Webhooks: only the header names differ
    assert not verify("standard-webhooks", req, [sdk_signing.SW_SECRET], CONTEXT).ok


def test_svix_published_vector() -> None:
    """The Standard Webhooks vector (tests/data/corpus/standard_webhooks.json) under Svix's names."""
    vector = support.corpus("standard_webhooks")["examples"][2]
    headers = {k.replace("webhook-", "svix-"): v for k, v in vector["headers"].items()}
    req = request(headers, vector["body_verbatim"].encode(), content_type=JSON)
    when = int(headers["svix-timestamp"])
    assert verify("svix", req, [sdk_signing.SW_SECRET], SignatureContext(now=when)).ok
    # Svix's SDK also accepts the webhook-* names; so do we (never mixed within a request)
    plain = request(vector["headers"], vector["body_verbatim"].encode(), content_type=JSON)
    assert verify("svix", plain, [sdk_signing.SW_SECRET], SignatureContext(now=when)).ok


@pytest.mark.parametrize(("offset", "ok"), [(-301, False), (301, False), (-299, True), (299, True)])
def test_svix_replay_window(offset: int, ok: bool) -> None:
    req = request(sdk_signing.svix_headers(SW_BODY, NOW + offset), SW_BODY, content_type=JSON)
    assert verify("svix", req, [sdk_signing.SW_SECRET], CONTEXT).ok is ok


def test_standard_webhooks_sdk_signature_verifies() -> None:
    req = request(sdk_signing.standard_webhooks_headers(SW_BODY, NOW), SW_BODY, content_type=JSON)
    assert_tamper_fails(
        "standard-webhooks", req, sdk_signing.SW_SECRET, CONTEXT, "webhook-signature"
    )


# ---- twilio ------------------------------------------------------------------------------------

TOKEN = "12345"
SHARED_KEY = "shared-key-secret"
PUBLIC = "https://dlr.example.com/v1/callbacks/twilio?token=X"
PARAMS = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": "whatsapp:+15005550006"}


def twilio_form(url: str, signature: str, extra: dict[str, str] | None = None) -> RawRequest:
    headers = {"X-Twilio-Signature": signature, **(extra or {})}
    return at(url, headers, urlencode(PARAMS).encode(), FORM)


def test_twilio_sha1_with_a_token_in_public_url() -> None:
    signature = sdk_signing.twilio_signature(TOKEN, PUBLIC, PARAMS)
    context = SignatureContext(now=NOW, public_url=PUBLIC)
    assert_tamper_fails(
        "twilio", twilio_form(PUBLIC, signature), TOKEN, context, "x-twilio-signature"
    )


def test_twilio_json_body_sha256_with_a_query_in_public_url() -> None:
    """Issue 15: Twilio calls `public_url` + `&bodySHA256=…` and signs that whole URL; the
    signed URL used to be `public_url` alone, so these never verified (nor was the hash checked)."""
    body = json.dumps({"sid": "SM1", "status": "delivered"}).encode()
    url = f"{PUBLIC}&bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = sdk_signing.twilio_json_signature(TOKEN, url, body)
    req = at(url, {"X-Twilio-Signature": signature}, body, JSON)
    context = SignatureContext(now=NOW, public_url=PUBLIC)
    assert_tamper_fails("twilio", req, TOKEN, context, "x-twilio-signature")
    changed = verify(
        "twilio", replace(req, body=body.replace(b"delivered", b"failed!!!")), [TOKEN], context
    )
    assert changed.reason == "bodySHA256 does not match the body"


def test_twilio_hmac_sha256_shared_key() -> None:
    settings = {
        "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    }
    signature = sdk_signing.twilio_signature(SHARED_KEY, PUBLIC, PARAMS, "HMAC_SHA256")
    req = twilio_form(PUBLIC, signature, settings)
    context = SignatureContext(now=NOW, public_url=PUBLIC)
    assert_tamper_fails("twilio", req, SHARED_KEY, context, "x-twilio-signature")
    # rotation between the Auth Token and the SharedKey: any configured secret may match
    assert verify("twilio", req, [TOKEN, SHARED_KEY], context).ok
    # without the settings header the SHA-256 signature is read as SHA-1: it does not match
    bare = replace(req, headers={k: v for k, v in req.headers.items() if "settings" not in k})
    assert not verify("twilio", bare, [SHARED_KEY], context).ok
    # a SHA-1 signature announced as SHA-256 does not match either
    sha1 = sdk_signing.twilio_signature(SHARED_KEY, PUBLIC, PARAMS)
    assert not verify("twilio", twilio_form(PUBLIC, sha1, settings), [SHARED_KEY], context).ok


def test_twilio_unknown_algorithm_is_refused() -> None:
    settings = {"X-Twilio-Webhooks-Signature-Settings": "key=k,algorithm=HMAC_SHA512"}
    signature = sdk_signing.twilio_signature(TOKEN, PUBLIC, PARAMS)
    result = verify(
        "twilio",
        twilio_form(PUBLIC, signature, settings),
        [TOKEN],
        SignatureContext(now=NOW, public_url=PUBLIC),
    )
    assert (
        result.reason == "unsupported X-Twilio-Webhooks-Signature-Settings algorithm 'HMAC_SHA512'"
    )


# ---- plivo -------------------------------------------------------------------------------------

PLIVO_TOKEN = "plivo-auth-token"
PLIVO_URL = "https://dlr.example.com/v1/callbacks/plivo"
PLIVO_PARAMS = {
    "MessageUUID": "db3ce55a-7f1d-11e1-8ea7-1231380bc196",
    "Status": "delivered",
    "To": "14155551234",
    "From": "14155550000",
    "ErrorCode": "000",
}


@pytest.mark.parametrize("url", [PLIVO_URL, PLIVO_URL + "?token=abc&b=2"])
def test_plivo_v3_post_signed_by_the_sdk(url: str) -> None:
    headers = sdk_signing.plivo_v3_headers(PLIVO_TOKEN, "POST", url, PLIVO_PARAMS)
    req = at(url, headers, urlencode(PLIVO_PARAMS).encode(), FORM)
    context = SignatureContext(now=NOW, public_url=PLIVO_URL)
    assert_tamper_fails("plivo", req, PLIVO_TOKEN, context, "x-plivo-signature-v3")
    # the nonce is signed too
    assert not verify(
        "plivo", with_header(req, "x-plivo-signature-v3-nonce", "other"), [PLIVO_TOKEN], context
    ).ok


def test_plivo_v3_get_signed_by_the_sdk() -> None:
    url = PLIVO_URL + "?" + urlencode(PLIVO_PARAMS)
    headers = sdk_signing.plivo_v3_headers(PLIVO_TOKEN, "GET", url, PLIVO_PARAMS)
    req = at(url, headers, b"", "", method="GET")
    context = SignatureContext(now=NOW, public_url=PLIVO_URL)
    assert verify("plivo", req, [PLIVO_TOKEN], context).ok
    changed = replace(req, query=(("Status", "failed"),), raw_query="Status=failed")
    assert not verify("plivo", changed, [PLIVO_TOKEN], context).ok


def test_plivo_header_with_several_signatures() -> None:
    headers = sdk_signing.plivo_v3_headers(PLIVO_TOKEN, "POST", PLIVO_URL, PLIVO_PARAMS)
    headers["X-Plivo-Signature-V3"] = "bm90IHRoaXM=," + headers["X-Plivo-Signature-V3"]
    req = at(PLIVO_URL, headers, urlencode(PLIVO_PARAMS).encode(), FORM)
    assert verify("plivo", req, [PLIVO_TOKEN], SignatureContext(now=NOW, public_url=PLIVO_URL)).ok


def test_plivo_v2_only_when_the_key_accepts_it() -> None:
    """V2 signs the URL and nonce but no parameter: any body verifies with a captured one."""
    headers = sdk_signing.plivo_v3_headers(PLIVO_TOKEN, "POST", PLIVO_URL, PLIVO_PARAMS)
    v2_only = {k: v for k, v in headers.items() if "V3" not in k}
    forged_body = urlencode({**PLIVO_PARAMS, "Status": "failed"}).encode()
    req = at(PLIVO_URL, v2_only, forged_body, FORM)
    strict = SignatureContext(now=NOW, public_url=PLIVO_URL)
    assert "missing X-Plivo-Signature-V3" in verify("plivo", req, [PLIVO_TOKEN], strict).reason
    weak = replace(strict, options={"signature_version": "v2"})
    assert verify("plivo", req, [PLIVO_TOKEN], weak).ok  # documented as weaker for this reason
    assert not verify("plivo", req, ["other-token"], weak).ok
    # with V3 present, V3 decides even for a V2 key
    both = at(PLIVO_URL, headers, forged_body, FORM)
    assert not verify("plivo", both, [PLIVO_TOKEN], weak).ok


def test_plivo_needs_public_url_and_nonce() -> None:
    headers = sdk_signing.plivo_v3_headers(PLIVO_TOKEN, "POST", PLIVO_URL, PLIVO_PARAMS)
    req = at(PLIVO_URL, headers, urlencode(PLIVO_PARAMS).encode(), FORM)
    assert verify("plivo", req, [PLIVO_TOKEN], CONTEXT).reason == "public_url not configured"
    no_nonce = replace(
        req, headers={k: v for k, v in req.headers.items() if k != "x-plivo-signature-v3-nonce"}
    )
    context = SignatureContext(now=NOW, public_url=PLIVO_URL)
    assert (
        "without X-Plivo-Signature-V3-Nonce"
        in verify("plivo", no_nonce, [PLIVO_TOKEN], context).reason
    )


# ---- telnyx ------------------------------------------------------------------------------------

TELNYX = sdk_signing.TelnyxKey(seed=bytes(range(32)))
TELNYX_BODY = b'{"data": {"event_type": "message.finalized", "payload": {"id": "40385f64"}}}'


def test_telnyx_ed25519() -> None:
    req = request(TELNYX.headers(TELNYX_BODY, NOW), TELNYX_BODY, content_type=JSON)
    assert verify("telnyx", req, [TELNYX.public], CONTEXT).ok
    assert not verify("telnyx", replace(req, body=TELNYX_BODY + b" "), [TELNYX.public], CONTEXT).ok
    other = sdk_signing.TelnyxKey(seed=bytes(range(1, 33)))
    assert not verify("telnyx", req, [other.public], CONTEXT).ok
    assert verify("telnyx", req, [other.public, TELNYX.public], CONTEXT).ok  # rotation
    # the timestamp is signed: refreshing it on a captured request breaks the signature
    refreshed = with_header(req, "telnyx-timestamp", str(NOW + 1))
    assert not verify("telnyx", refreshed, [TELNYX.public], CONTEXT).ok
    forged = with_header(
        req, "telnyx-signature-ed25519", flip_text(req.headers["telnyx-signature-ed25519"], 5)
    )
    assert not verify("telnyx", forged, [TELNYX.public], CONTEXT).ok


def test_telnyx_sdk_accepts_what_we_accept_now() -> None:
    stamp = int(time.time())
    headers = TELNYX.headers(TELNYX_BODY, stamp)  # checked by Telnyx's SDK inside
    req = request(headers, TELNYX_BODY, content_type=JSON)
    assert verify("telnyx", req, [TELNYX.public], SignatureContext(now=stamp)).ok


@pytest.mark.parametrize(("offset", "reason"), [(-301, "older than 300s"), (301, "in the future")])
def test_telnyx_stale(offset: int, reason: str) -> None:
    req = request(TELNYX.headers(TELNYX_BODY, NOW + offset), TELNYX_BODY, content_type=JSON)
    assert reason in verify("telnyx", req, [TELNYX.public], CONTEXT).reason


def test_telnyx_bad_headers() -> None:
    req = request(TELNYX.headers(TELNYX_BODY, NOW), TELNYX_BODY, content_type=JSON)
    assert verify("telnyx", request({}, TELNYX_BODY), [TELNYX.public], CONTEXT).reason.startswith(
        "missing"
    )
    short = with_header(req, "telnyx-signature-ed25519", base64.b64encode(b"x" * 10).decode())
    assert (
        verify("telnyx", short, [TELNYX.public], CONTEXT).reason
        == "telnyx-signature-ed25519 is not an Ed25519 signature"
    )
    assert (
        verify(
            "telnyx", with_header(req, "telnyx-signature-ed25519", "!!"), [TELNYX.public], CONTEXT
        ).reason
        == "telnyx-signature-ed25519 is not base64"
    )
    assert not verify("telnyx", req, ["not a key"], CONTEXT).ok


# ---- messagebird / bird ------------------------------------------------------------------------

MB_KEY = "messagebird-signing-key-with-32-bytes-or-more"
MB_URL = "https://dlr.example.com/v1/callbacks/mb?id=abc&status=delivered"
MB_PUBLIC = "https://dlr.example.com/v1/callbacks/mb"


def mb_request(token: str, url: str = MB_URL, body: bytes = b"") -> RawRequest:
    method = "POST" if body else "GET"
    return at(url, {"MessageBird-Signature-JWT": token}, body, JSON if body else "", method)


def test_messagebird_jwt_query_and_body() -> None:
    context = SignatureContext(now=NOW, public_url=MB_PUBLIC)
    get = mb_request(sdk_signing.messagebird_jwt(MB_KEY, MB_URL, b"", NOW))
    assert verify("messagebird", get, [MB_KEY], context).ok
    assert verify("messagebird", get, ["old-key", MB_KEY], context).ok
    assert not verify("messagebird", get, ["old-key"], context).ok
    # url_hash covers the query: a changed status is another URL
    changed = replace(
        get, raw_query="id=abc&status=failed", query=(("id", "abc"), ("status", "failed"))
    )
    assert (
        verify("messagebird", changed, [MB_KEY], context).reason
        == "JWT url_hash does not match the URL"
    )
    body = b'{"id": "abc", "status": "delivered"}'
    post = mb_request(sdk_signing.messagebird_jwt(MB_KEY, MB_URL, body, NOW), body=body)
    assert verify("messagebird", post, [MB_KEY], context).ok
    tampered = replace(post, body=body.replace(b"delivered", b"failed!!!"))
    assert (
        verify("messagebird", tampered, [MB_KEY], context).reason
        == "JWT payload_hash does not match the body"
    )
    emptied = replace(post, body=b"")
    assert "no body" in verify("messagebird", emptied, [MB_KEY], context).reason


def test_messagebird_sdk_accepts_what_we_accept_now() -> None:
    now = time.time()
    token = sdk_signing.messagebird_jwt(MB_KEY, MB_URL, b"", now)  # validated by the SDK inside
    assert verify(
        "messagebird", mb_request(token), [MB_KEY], SignatureContext(now=now, public_url=MB_PUBLIC)
    ).ok


def test_messagebird_replay_and_claims() -> None:
    context = SignatureContext(now=NOW, public_url=MB_PUBLIC)
    expired = sdk_signing.messagebird_jwt(MB_KEY, MB_URL, b"", NOW - 120, lifetime=60)
    assert verify("messagebird", mb_request(expired), [MB_KEY], context).reason == "JWT has expired"
    early = sdk_signing.messagebird_jwt(MB_KEY, MB_URL, b"", NOW + 600)
    assert "nbf" in verify("messagebird", mb_request(early), [MB_KEY], context).reason
    other_issuer = sdk_signing.messagebird_jwt(MB_KEY, MB_URL, b"", NOW, iss="Mallory")
    assert (
        verify("messagebird", mb_request(other_issuer), [MB_KEY], context).reason
        == "JWT issuer is not MessageBird"
    )
    assert (
        verify("messagebird", mb_request("not.a.jwt"), [MB_KEY], context).reason
        == "MessageBird-Signature-JWT is not a valid JWT"
    )
    assert (
        verify("messagebird", request(), [MB_KEY], context).reason
        == "missing MessageBird-Signature-JWT"
    )


BIRD_KEY = "bird-signing-key"
BIRD_URL = "https://dlr.example.com/v1/callbacks/bird"


def test_bird_platform_signature() -> None:
    body = b'{"service": "channels", "event": "sms.outbound", "payload": {"id": "b1"}}'
    req = at(BIRD_URL, sdk_signing.bird_headers(BIRD_KEY, BIRD_URL, body, NOW), body, JSON)
    context = SignatureContext(now=NOW, public_url=BIRD_URL)
    assert_tamper_fails("bird", req, BIRD_KEY, context, "messagebird-signature")
    refreshed = with_header(req, "messagebird-request-timestamp", str(NOW + 1))
    assert not verify("bird", refreshed, [BIRD_KEY], context).ok
    stale = at(BIRD_URL, sdk_signing.bird_headers(BIRD_KEY, BIRD_URL, body, NOW - 301), body, JSON)
    assert "older than" in verify("bird", stale, [BIRD_KEY], context).reason
    elsewhere = SignatureContext(now=NOW, public_url=BIRD_URL + "/other")
    assert not verify("bird", req, [BIRD_KEY], elsewhere).ok
