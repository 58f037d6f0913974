"""Signature verification schemes: corpus vectors, tampering, rotation, replay windows."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver import signatures
from receiver.model import RawRequest
from receiver.signatures import SCHEMES, SignatureContext, SignatureResult, verify
from tests import support

CORPUS = support.CORPUS
FORM = "application/x-www-form-urlencoded"


def corpus(name: str) -> dict[str, Any]:
    path = CORPUS / name
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def request(
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    query: Sequence[tuple[str, str]] = (),
    content_type: str = "",
    method: str = "POST",
) -> RawRequest:
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    return RawRequest(method, "/v1/callbacks/x", tuple(query), lowered, body, content_type)


def flip(data: bytes, index: int = 0) -> bytes:
    """`data` with one byte changed."""
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def flip_text(text: str, index: int = -3) -> str:
    changed = "A" if text[index] != "A" else "B"
    return text[:index] + changed + text[index + 1 :]


def with_header(req: RawRequest, name: str, value: str) -> RawRequest:
    return replace(req, headers={**req.headers, name: value})


def assert_tamper_fails(
    scheme: str, req: RawRequest, secret: str, context: SignatureContext, header: str
) -> None:
    """The valid request verifies; a flipped body byte, signature byte or secret does not."""
    assert verify(scheme, req, [secret], context).ok
    if req.body:
        assert not verify(scheme, replace(req, body=flip(req.body)), [secret], context).ok
        assert not verify(
            scheme, replace(req, body=flip(req.body, len(req.body) - 1)), [secret], context
        ).ok
    assert not verify(
        scheme, with_header(req, header, flip_text(req.headers[header])), [secret], context
    ).ok
    assert not verify(scheme, req, [flip_text(secret, 0)], context).ok
    # rotation: any configured secret may match
    assert verify(scheme, req, ["old-secret", secret], context).ok
    assert verify(scheme, req, [secret, "old-secret"], context).ok
    assert not verify(scheme, req, ["old-secret"], context).ok
    # reasons never echo secrets
    for result in (verify(scheme, req, ["old-secret"], context), verify(scheme, req, [], context)):
        assert "old-secret" not in result.reason and secret not in result.reason


# ---- interface -----------------------------------------------------------------------------


def test_schemes() -> None:
    assert set(SCHEMES) == {
        "hellio",
        "twilio",
        "vonage",
        "meta",
        "standard-webhooks",
        "svix",
        "plivo",
        "telnyx",
        "messagebird",
        "bird",
    }


def test_unknown_scheme() -> None:
    result = verify("nope", request(), ["s"], SignatureContext(now=0))
    assert result == SignatureResult(False, "unknown signature scheme 'nope'")


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_no_secrets(scheme: str) -> None:
    result = verify(scheme, request(), [], SignatureContext(now=0))
    wanted = "no public_keys configured" if SCHEMES[scheme].keys == "public_keys" else None
    assert result == (SignatureResult(False, wanted) if wanted else signatures.NO_SECRETS)


def test_context_defaults() -> None:
    context = SignatureContext(now=1.0)
    assert (context.tolerance_seconds, context.public_url, dict(context.options)) == (300, None, {})


# ---- hellio --------------------------------------------------------------------------------

HELLIO_SECRET = "hellio-secret"
HELLIO_BODY = (
    b'{"event": "message.delivered", "provider_message_id": "abc123", "status": "delivered"}'
)
HELLIO_V1 = "7035b45e3af186100464df45b945811dcb1b6a32cfb06fb69d957077418730d2"
HELLIO_TS = "1751279041"
HELLIO_V2 = "f529ee6a073fd7877cb18b83b20e834da4b4ef1aaa80743c1d491fb5d254d78e"
HELLIO_NOW = SignatureContext(now=1751279041 + 10)
# V1 alone is accepted only when the key asks for it (it carries no timestamp)
HELLIO_V1_OK = replace(HELLIO_NOW, options={"signature_version": "v1"})


def hellio_v2_request(
    stamp: str = HELLIO_TS, secret: str = HELLIO_SECRET, v1: str | None = None
) -> RawRequest:
    v2 = hmac.new(secret.encode(), stamp.encode() + b"." + HELLIO_BODY, "sha256").hexdigest()
    headers = {"X-Hellio-Timestamp": stamp, "X-Hellio-Signature-V2": v2}
    if v1 is not None:
        headers["X-Hellio-Signature"] = v1
    return request(headers, HELLIO_BODY, content_type="application/json")


def test_hellio_hard_coded_vectors() -> None:
    assert hmac.new(HELLIO_SECRET.encode(), HELLIO_BODY, "sha256").hexdigest() == HELLIO_V1
    v1 = request({"X-Hellio-Signature": HELLIO_V1}, HELLIO_BODY)
    assert verify("hellio", v1, [HELLIO_SECRET], HELLIO_V1_OK).ok
    v2 = request({"X-Hellio-Timestamp": HELLIO_TS, "X-Hellio-Signature-V2": HELLIO_V2}, HELLIO_BODY)
    assert verify("hellio", v2, [HELLIO_SECRET], HELLIO_NOW).ok


def test_hellio_v1_tamper_and_rotation() -> None:
    req = request({"X-Hellio-Signature": HELLIO_V1}, HELLIO_BODY)
    assert_tamper_fails("hellio", req, HELLIO_SECRET, HELLIO_V1_OK, "x-hellio-signature")
    assert verify(
        "hellio",
        with_header(req, "x-hellio-signature", HELLIO_V1.upper()),
        [HELLIO_SECRET],
        HELLIO_V1_OK,
    ).ok


def test_hellio_v2_is_required_by_default() -> None:
    """Issue 16.5: a captured webhook with its V2 headers deleted must not verify by V1."""
    captured = hellio_v2_request(stamp="1", v1=HELLIO_V1)  # of any age
    stripped = replace(
        captured,
        headers={
            k: v
            for k, v in captured.headers.items()
            if k not in ("x-hellio-timestamp", "x-hellio-signature-v2")
        },
    )
    result = verify("hellio", stripped, [HELLIO_SECRET], HELLIO_NOW)
    assert not result.ok and "missing X-Hellio-Signature-V2" in result.reason
    explicit = replace(HELLIO_NOW, options={"signature_version": "v2"})
    assert not verify("hellio", stripped, [HELLIO_SECRET], explicit).ok
    # the weaker fallback, when the key says so
    assert verify("hellio", stripped, [HELLIO_SECRET], HELLIO_V1_OK).ok
    # even then a V2 signature present must hold: it never falls back past a stale V2
    assert "older than" in verify("hellio", captured, [HELLIO_SECRET], HELLIO_V1_OK).reason


def test_hellio_v2_tamper_and_rotation() -> None:
    assert_tamper_fails(
        "hellio", hellio_v2_request(), HELLIO_SECRET, HELLIO_NOW, "x-hellio-signature-v2"
    )
    req = hellio_v2_request()
    assert not verify(
        "hellio", with_header(req, "x-hellio-timestamp", "1751279042"), [HELLIO_SECRET], HELLIO_NOW
    ).ok


def test_hellio_v2_is_required_when_present() -> None:
    # a valid V1 does not rescue a wrong V2 (that would defeat replay protection)
    req = with_header(hellio_v2_request(v1=HELLIO_V1), "x-hellio-signature-v2", "00" * 32)
    result = verify("hellio", req, [HELLIO_SECRET], HELLIO_NOW)
    assert result == SignatureResult(False, "X-Hellio-Signature-V2 does not match")


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(-301, "older than 300s"), (301, "in the future"), (-300, None), (300, None)],
)
def test_hellio_timestamp_window(offset: int, reason: str | None) -> None:
    stamp = str(int(HELLIO_NOW.now) + offset)
    result = verify("hellio", hellio_v2_request(stamp, v1=HELLIO_V1), [HELLIO_SECRET], HELLIO_NOW)
    assert result.ok is (reason is None)
    if reason:
        assert reason in result.reason


def test_hellio_tolerance_is_configurable() -> None:
    stamp = str(int(HELLIO_NOW.now) - 3600)
    req = hellio_v2_request(stamp)
    assert not verify("hellio", req, [HELLIO_SECRET], HELLIO_NOW).ok
    assert verify("hellio", req, [HELLIO_SECRET], replace(HELLIO_NOW, tolerance_seconds=7200)).ok


def test_hellio_missing_or_bad_headers() -> None:
    assert (
        verify("hellio", request({}, HELLIO_BODY), [HELLIO_SECRET], HELLIO_V1_OK).reason
        == "missing X-Hellio-Signature"
    )
    no_ts = request({"X-Hellio-Signature-V2": HELLIO_V2}, HELLIO_BODY)
    assert (
        "without X-Hellio-Timestamp" in verify("hellio", no_ts, [HELLIO_SECRET], HELLIO_NOW).reason
    )
    bad_ts = hellio_v2_request("yesterday")
    assert (
        verify("hellio", bad_ts, [HELLIO_SECRET], HELLIO_NOW).reason
        == "X-Hellio-Timestamp is not a timestamp"
    )


def test_hellio_iso_and_millisecond_timestamps() -> None:
    assert verify(
        "hellio", hellio_v2_request("2025-06-30T10:24:01+00:00"), [HELLIO_SECRET], HELLIO_NOW
    ).ok
    assert verify("hellio", hellio_v2_request(HELLIO_TS + "000"), [HELLIO_SECRET], HELLIO_NOW).ok


# ---- twilio --------------------------------------------------------------------------------

TWILIO_URL = "https://mycompany.com/myapp.php"
TWILIO_QUERY = (("foo", "1"), ("bar", "2"))


def twilio() -> dict[str, Any]:
    vectors: dict[str, Any] = corpus("twilio.json")["signature"]["test_vectors"]
    return vectors


def twilio_form_request(signature: str | None = None) -> RawRequest:
    vectors = twilio()
    body = urlencode(vectors["params"]).encode()
    headers = {"X-Twilio-Signature": signature or vectors["expected_signature"]}
    return request(headers, body, TWILIO_QUERY, FORM)


def twilio_json_request() -> tuple[RawRequest, str]:
    vector = twilio()["vectors"][1]
    base, _, query = vector["uri"].partition("?")
    pairs = tuple(tuple(p.split("=", 1)) for p in query.split("&"))
    req = request(
        {"X-Twilio-Signature": vector["signature"]},
        vector["body"].encode(),
        pairs,
        "application/json",
    )
    return req, base


def test_twilio_corpus_form_vector() -> None:
    vectors = twilio()
    assert vectors["vectors"][0]["uri"] == TWILIO_URL + "?foo=1&bar=2"
    assert vectors["vectors"][0]["signature"] == vectors["expected_signature"]
    context = SignatureContext(now=0, public_url=TWILIO_URL)
    assert_tamper_fails(
        "twilio", twilio_form_request(), vectors["auth_token"], context, "x-twilio-signature"
    )


def test_twilio_signed_url_is_public_base_plus_the_request_query() -> None:
    """Issue 15: the query the request arrived with is signed, whatever `public_url` holds."""
    token = twilio()["auth_token"]
    for public_url in (TWILIO_URL, twilio()["uri"], TWILIO_URL + "?token=other"):
        context = SignatureContext(now=0, public_url=public_url)
        assert verify("twilio", twilio_form_request(), [token], context).ok
        # the same request without its query is another URL: not what Twilio signed
        assert not verify("twilio", replace(twilio_form_request(), query=()), [token], context).ok


def test_twilio_default_port_both_ways() -> None:
    token = twilio()["auth_token"]
    with_port = SignatureContext(now=0, public_url="https://mycompany.com:443/myapp.php")
    assert verify("twilio", twilio_form_request(), [token], with_port).ok
    # Twilio signed the URL with the port; we are configured without it
    params = "".join(k + v for k, v in sorted(twilio()["params"].items()))
    signed = "https://mycompany.com:443/myapp.php?foo=1&bar=2" + params
    signature = base64.b64encode(
        hmac.new(token.encode(), signed.encode(), "sha1").digest()
    ).decode()
    assert verify(
        "twilio",
        twilio_form_request(signature),
        [token],
        SignatureContext(now=0, public_url=TWILIO_URL),
    ).ok
    # a non-default port is never dropped
    other = SignatureContext(now=0, public_url="https://mycompany.com:8443/myapp.php")
    assert not verify("twilio", twilio_form_request(), [token], other).ok


def test_twilio_http_default_port() -> None:
    token = "12345"
    signed = "http://example.com:80/dlr"
    signature = base64.b64encode(
        hmac.new(token.encode(), signed.encode(), "sha1").digest()
    ).decode()
    req = request({"X-Twilio-Signature": signature}, method="GET")
    assert verify(
        "twilio", req, [token], SignatureContext(now=0, public_url="http://example.com/dlr")
    ).ok


def test_twilio_repeated_params_sorted_and_deduplicated() -> None:
    token = "12345"
    body = b"To=%2B1&Media=b&Media=a&Media=b"
    signed = TWILIO_URL + "MediaaMediabTo+1"
    signature = base64.b64encode(
        hmac.new(token.encode(), signed.encode(), "sha1").digest()
    ).decode()
    req = request({"X-Twilio-Signature": signature}, body, content_type=FORM)
    assert verify("twilio", req, [token], SignatureContext(now=0, public_url=TWILIO_URL)).ok


def test_twilio_corpus_json_vector() -> None:
    req, base = twilio_json_request()
    context = SignatureContext(now=0, public_url=base)
    assert hashlib.sha256(req.body).hexdigest() == dict(req.query)["bodySHA256"]
    assert_tamper_fails("twilio", req, twilio()["auth_token"], context, "x-twilio-signature")
    tampered = verify(
        "twilio", replace(req, body=flip(req.body)), [twilio()["auth_token"]], context
    )
    assert tampered.reason == "bodySHA256 does not match the body"


def test_twilio_public_url_not_configured() -> None:
    result = verify(
        "twilio", twilio_form_request(), [twilio()["auth_token"]], SignatureContext(now=0)
    )
    assert result == SignatureResult(False, "public_url not configured")


def test_twilio_missing_header_and_bad_body() -> None:
    context = SignatureContext(now=0, public_url=TWILIO_URL)
    assert verify("twilio", request(), ["t"], context).reason == "missing X-Twilio-Signature"
    bad = request({"X-Twilio-Signature": "x"}, b"a=\xff", content_type=FORM)
    assert verify("twilio", bad, ["t"], context).reason == "form body is not UTF-8"


def test_twilio_wrong_path_fails() -> None:
    context = SignatureContext(now=0, public_url="https://mycompany.com/other.php")
    assert not verify("twilio", twilio_form_request(), [twilio()["auth_token"]], context).ok


# ---- vonage --------------------------------------------------------------------------------


def vonage() -> dict[str, Any]:
    sig: dict[str, Any] = corpus("vonage.json")["signature"]
    return sig


def vonage_sms_request(
    sig: str | None = None, extra: dict[str, str] | None = None
) -> tuple[RawRequest, str]:
    vectors = vonage()["sms_api_test_vectors"]
    vector = vectors["vectors"][0]
    params = {k: str(v) for k, v in vector["params"].items()} | (extra or {})
    query = (*params.items(), ("sig", sig or vector["sig"]))
    return request(query=query, method="GET"), vectors["signature_secret"]


VONAGE_NOW = SignatureContext(now=1234567890, options={"signature_method": "sha256"})


def test_vonage_corpus_sms_vector() -> None:
    req, secret = vonage_sms_request()
    assert verify("vonage", req, [secret], VONAGE_NOW).ok
    assert verify("vonage", req, ["old", secret], VONAGE_NOW).ok
    assert not verify("vonage", req, ["old"], VONAGE_NOW).ok
    assert not verify("vonage", req, [secret + "x"], VONAGE_NOW).ok
    upper, _ = vonage_sms_request(vonage()["sms_api_test_vectors"]["vectors"][0]["sig"].upper())
    assert verify("vonage", upper, [secret], VONAGE_NOW).ok
    flipped, _ = vonage_sms_request(
        flip_text(vonage()["sms_api_test_vectors"]["vectors"][0]["sig"])
    )
    assert verify("vonage", flipped, [secret], VONAGE_NOW).reason == "sig does not match"
    changed = replace(req, query=(("param1", "value9"), *req.query[1:]))
    assert not verify("vonage", changed, [secret], VONAGE_NOW).ok


def test_vonage_md5hash_default_hard_coded() -> None:
    _, secret = vonage_sms_request()
    expected = "d72f75ac8cda9bbce891c4fa62bee6cd"
    signed = b"&param1=value1&param2=value2&timestamp=1234567890"
    assert hashlib.md5(signed + secret.encode()).hexdigest() == expected
    req, _ = vonage_sms_request(expected)
    assert verify("vonage", req, [secret], SignatureContext(now=1234567890)).ok


@pytest.mark.parametrize("method", ["md5", "sha1", "sha256", "sha512"])
def test_vonage_hmac_methods(method: str) -> None:
    secret = "signature_secret"
    signed = b"&param1=value1&param2=value2&timestamp=1234567890"
    sig = hmac.new(secret.encode(), signed, method).hexdigest()
    req, _ = vonage_sms_request(sig)
    context = SignatureContext(now=1234567890, options={"signature_method": method})
    assert verify("vonage", req, [secret], context).ok
    other = "sha1" if method != "sha1" else "md5"
    assert not verify(
        "vonage", req, [secret], replace(context, options={"signature_method": other})
    ).ok


def test_vonage_values_with_ampersand_and_equals() -> None:
    secret = "s3cret"
    params = {"text": "a&b=c", "timestamp": "1234567890"}
    sig = hashlib.md5(b"&text=a_b_c&timestamp=1234567890" + secret.encode()).hexdigest()
    form = request(body=urlencode({**params, "sig": sig}).encode(), content_type=FORM)
    assert verify("vonage", form, [secret], SignatureContext(now=1234567890)).ok


def test_vonage_json_body() -> None:
    secret = "s3cret"
    body = {"messageId": "0B00000127FDBC63", "status": "delivered", "timestamp": 1234567890}
    signed = b"&messageId=0B00000127FDBC63&status=delivered&timestamp=1234567890"
    body["sig"] = hashlib.md5(signed + secret.encode()).hexdigest()
    req = request(body=json.dumps(body).encode(), content_type="application/json")
    assert verify("vonage", req, [secret], SignatureContext(now=1234567890)).ok


def test_vonage_sms_timestamp_window() -> None:
    req, secret = vonage_sms_request()
    assert (
        "older than 300s"
        in verify("vonage", req, [secret], replace(VONAGE_NOW, now=1234567890 + 301)).reason
    )
    assert (
        "in the future"
        in verify("vonage", req, [secret], replace(VONAGE_NOW, now=1234567890 - 301)).reason
    )


def test_vonage_sms_missing_things() -> None:
    assert "missing sig" in verify("vonage", request(query=(("a", "1"),)), ["s"], VONAGE_NOW).reason
    no_ts = request(query=(("a", "1"), ("sig", "00")))
    assert verify("vonage", no_ts, ["s"], VONAGE_NOW).reason == "missing timestamp parameter"
    bad = SignatureContext(now=0, options={"signature_method": "crc32"})
    assert (
        verify("vonage", vonage_sms_request()[0], ["s"], bad).reason
        == "unknown signature_method 'crc32'"
    )
    undecodable = request(body=b"\xff{", content_type="application/json")
    assert verify("vonage", undecodable, ["s"], VONAGE_NOW).reason == "body cannot be decoded"


def vonage_jwt_context() -> SignatureContext:
    # the corpus vector carries no payload_hash: accepted only when a key says so
    return SignatureContext(now=1697634680, options={"require_payload_hash": False})


def test_vonage_corpus_jwt_vector() -> None:
    vector = vonage()["messages_api_test_vector"]
    req = request({"Authorization": "Bearer " + vector["token"]}, b'{"status": "read"}')
    strict = verify("vonage", req, [vector["valid_secret"]], SignatureContext(now=1697634680))
    assert strict == SignatureResult(False, "JWT has no payload_hash")
    assert verify("vonage", req, [vector["valid_secret"]], vonage_jwt_context()).ok
    assert verify(
        "vonage", req, [vector["invalid_secret"], vector["valid_secret"]], vonage_jwt_context()
    ).ok
    wrong = verify("vonage", req, [vector["invalid_secret"]], vonage_jwt_context())
    assert wrong == SignatureResult(False, "JWT signature does not match")
    token = vector["token"]
    tampered = request(
        {"Authorization": "Bearer " + token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")}
    )
    assert not verify("vonage", tampered, [vector["valid_secret"]], vonage_jwt_context()).ok
    # iat is checked against context.now: the vector is from 2023
    stale = verify(
        "vonage", req, [vector["valid_secret"]], replace(vonage_jwt_context(), now=1697634680 + 301)
    )
    assert stale.reason == "JWT iat is older than 300s"


def make_jwt(secret: str, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def test_vonage_jwt_payload_hash() -> None:
    secret = "a-signature-secret-of-32-bytes!!"
    body = b'{"message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab", "status": "delivered"}'
    claims = {
        "iat": 1697634680,
        "jti": "x",
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(body).hexdigest(),
    }
    req = request({"Authorization": "Bearer " + make_jwt(secret, claims)}, body)
    assert verify("vonage", req, [secret], vonage_jwt_context()).ok
    bad = verify("vonage", replace(req, body=flip(body)), [secret], vonage_jwt_context())
    assert bad.reason == "JWT payload_hash does not match the body"


def test_vonage_jwt_claims() -> None:
    secret = "a-signature-secret-of-32-bytes!!"
    no_iat = request({"Authorization": "Bearer " + make_jwt(secret, {"iss": "Vonage"})})
    assert (
        verify("vonage", no_iat, [secret], vonage_jwt_context()).reason == "JWT has no numeric iat"
    )
    expired = make_jwt(secret, {"iat": 1697634680, "exp": 1697634600})
    assert (
        verify(
            "vonage",
            request({"Authorization": "Bearer " + expired}),
            [secret],
            vonage_jwt_context(),
        ).reason
        == "JWT has expired"
    )
    future = make_jwt(secret, {"iat": 1697634680 + 400})
    assert (
        "in the future"
        in verify(
            "vonage", request({"Authorization": "Bearer " + future}), [secret], vonage_jwt_context()
        ).reason
    )
    garbage = request({"Authorization": "Bearer not.a.jwt"})
    assert (
        verify("vonage", garbage, [secret], vonage_jwt_context()).reason
        == "Bearer token is not a valid JWT"
    )
    none_alg = jwt.encode({"iat": 1697634680}, None, algorithm="none")
    assert not verify(
        "vonage", request({"Authorization": "Bearer " + none_alg}), [secret], vonage_jwt_context()
    ).ok


# ---- meta ----------------------------------------------------------------------------------


def meta_request() -> tuple[RawRequest, str]:
    vector = corpus("meta_whatsapp.json")["signature"]["test_vector"]
    headers = {"X-Hub-Signature-256": vector["x_hub_signature_256"]}
    return request(headers, vector["raw_body"].encode(), content_type="application/json"), vector[
        "app_secret"
    ]


def test_meta_corpus_vector() -> None:
    req, secret = meta_request()
    assert_tamper_fails("meta", req, secret, SignatureContext(now=0), "x-hub-signature-256")


def test_meta_reserialised_body_fails() -> None:
    req, secret = meta_request()
    reserialised = json.dumps(json.loads(req.body), indent=1).encode()
    assert not verify("meta", replace(req, body=reserialised), [secret], SignatureContext(now=0)).ok


def test_meta_bad_headers() -> None:
    req, secret = meta_request()
    context = SignatureContext(now=0)
    assert (
        verify("meta", request(body=req.body), [secret], context).reason
        == "missing X-Hub-Signature-256"
    )
    bare = with_header(
        req, "x-hub-signature-256", req.headers["x-hub-signature-256"].removeprefix("sha256=")
    )
    assert (
        verify("meta", bare, [secret], context).reason
        == "X-Hub-Signature-256 is not 'sha256=<hex>'"
    )
    upper = with_header(
        req, "x-hub-signature-256", "sha256=" + req.headers["x-hub-signature-256"][7:].upper()
    )
    assert verify("meta", upper, [secret], context).ok


# ---- standard webhooks -----------------------------------------------------------------------


def sw_examples() -> list[dict[str, Any]]:
    examples: list[dict[str, Any]] = corpus("standard_webhooks.json")["examples"]
    return examples


def sw_vector() -> tuple[RawRequest, str, SignatureContext]:
    example = sw_examples()[2]
    req = request(
        example["headers"], example["body_verbatim"].encode(), content_type="application/json"
    )
    return (
        req,
        example["secret"],
        SignatureContext(now=int(example["headers"]["webhook-timestamp"])),
    )


def test_standard_webhooks_corpus_vector() -> None:
    req, secret, context = sw_vector()
    assert_tamper_fails("standard-webhooks", req, secret, context, "webhook-signature")
    assert not verify(
        "standard-webhooks", with_header(req, "webhook-id", "msg_other"), [secret], context
    ).ok


def test_standard_webhooks_secret_without_prefix_and_padding() -> None:
    req, secret, context = sw_vector()
    bare = secret.removeprefix("whsec_")
    assert verify("standard-webhooks", req, [bare], context).ok
    assert verify("standard-webhooks", req, [bare.rstrip("=")], context).ok


def test_standard_webhooks_any_entry_may_match() -> None:
    req, secret, context = sw_vector()
    valid = req.headers["webhook-signature"]
    spec_header = sw_examples()[0]["headers"]["webhook-signature"]
    multi = with_header(req, "webhook-signature", f"{spec_header} {valid}")
    assert verify("standard-webhooks", multi, [secret], context).ok
    only_v1a = with_header(req, "webhook-signature", "v1a," + valid.split(",", 1)[1])
    assert (
        verify("standard-webhooks", only_v1a, [secret], context).reason
        == "webhook-signature has no v1 entry"
    )


def test_standard_webhooks_spec_header_example_does_not_verify() -> None:
    """The spec's header example has no secret: with ours it must fail cleanly, not raise."""
    example = sw_examples()[0]
    req = request(example["headers"], b"{}")
    context = SignatureContext(now=int(example["headers"]["webhook-timestamp"]))
    assert (
        verify("standard-webhooks", req, ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], context).reason
        == "webhook-signature does not match"
    )


def test_standard_webhooks_content_to_sign_example() -> None:
    """Signing the spec's content-to-sign with any key verifies the request built from its parts."""
    content = sw_examples()[1]["body_verbatim"]
    msg_id, stamp, body = content.split(".", 2)
    key = b"0123456789abcdef0123456789abcdef"
    signature = base64.b64encode(hmac.new(key, content.encode(), "sha256").digest()).decode()
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + signature,
    }
    secret = "whsec_" + base64.b64encode(key).decode()
    assert verify(
        "standard-webhooks",
        request(headers, body.encode()),
        [secret],
        SignatureContext(now=int(stamp)),
    ).ok


@pytest.mark.parametrize(("offset", "ok"), [(-301, False), (301, False), (-300, True), (300, True)])
def test_standard_webhooks_timestamp_both_directions(offset: int, ok: bool) -> None:
    req, secret, context = sw_vector()
    assert (
        verify("standard-webhooks", req, [secret], replace(context, now=context.now - offset)).ok
        is ok
    )


def test_standard_webhooks_missing_headers() -> None:
    req, secret, context = sw_vector()
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        headers = {k: v for k, v in req.headers.items() if k != name}
        assert (
            verify("standard-webhooks", replace(req, headers=headers), [secret], context).reason
            == f"missing {name}"
        )
    assert verify("standard-webhooks", request(), [secret], context).reason == (
        "missing webhook-id, webhook-timestamp, webhook-signature"
    )


def test_standard_webhooks_bad_timestamp_and_secret() -> None:
    req, secret, context = sw_vector()
    bad_ts = with_header(req, "webhook-timestamp", "1614265330.5")
    assert (
        verify("standard-webhooks", bad_ts, [secret], context).reason
        == "webhook-timestamp is not a unix time"
    )
    assert (
        verify("standard-webhooks", req, ["whsec_not base64!"], context).reason
        == "no signing secret is valid base64"
    )


# ---- fuzz ----------------------------------------------------------------------------------

_HEADER_NAMES = st.sampled_from(
    ["x-hellio-signature", "x-hellio-signature-v2", "x-hellio-timestamp", "x-twilio-signature",
     "authorization", "x-hub-signature-256", "webhook-id", "webhook-timestamp", "webhook-signature",
     "svix-id", "svix-timestamp", "svix-signature", "x-twilio-webhooks-signature-settings",
     "x-plivo-signature-v3", "x-plivo-signature-v3-nonce", "x-plivo-signature-v2",
     "x-plivo-signature-v2-nonce", "telnyx-signature-ed25519", "telnyx-timestamp",
     "messagebird-signature-jwt", "messagebird-signature", "messagebird-request-timestamp"]
)  # fmt: skip
_HEADER_VALUES = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        ["Bearer ", "Bearer a.b.c", "sha256=", "v1,", "v1,=== v1a,x", "9" * 40, "1234567890"]
    ),
)
_QUERY = st.lists(
    st.tuples(st.sampled_from(["sig", "timestamp", "bodySHA256", "a"]), st.text(max_size=20)),
    max_size=6,
)


@given(
    st.sampled_from(sorted(SCHEMES)),
    st.dictionaries(_HEADER_NAMES, _HEADER_VALUES, max_size=6),
    st.binary(max_size=200),
    _QUERY,
    st.sampled_from(["", FORM, "application/json"]),
    st.lists(st.text(max_size=20), max_size=3),
    st.sampled_from([None, "https://x.example/cb", "http://[::1]:80/cb", "https://h:99999/x"]),
    st.sampled_from([None, "v1", "v2", "v3"]),
)
def test_fuzz_verifiers_never_raise(
    scheme: str,
    headers: dict[str, str],
    body: bytes,
    query: list[tuple[str, str]],
    content_type: str,
    secrets: list[str],
    public_url: str | None,
    version: str | None,
) -> None:
    context = SignatureContext(
        now=1234567890,
        public_url=public_url,
        options={"signature_method": "sha1", "signature_version": version},
    )
    result = verify(scheme, request(headers, body, query, content_type), secrets, context)
    assert isinstance(result, SignatureResult) and result.reason
    assert result.ok is False or result.reason == "ok"
