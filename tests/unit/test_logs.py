import json

import pytest
import structlog

from receiver import logs


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+233241234567", "+233*****4567"),
        ("to=447547232824&x=1", "to=447*****2824&x=1"),
        ("whatsapp:+14155238886", "whatsapp:+141****8886"),
        ("order 1234567", "order 1234567"),  # too short to be a phone number
        # URL-encoded: the '+' as %2B, the separator before it encoded too
        ("a=1&%2B6591234567", "a=1&%2B659***4567"),
        ("to=%2b6591234567&x=1", "to=%2b659***4567&x=1"),
        ("whatsapp%3A%2B14155238886", "whatsapp%3A%2B141****8886"),
        ("tel%3A6591234567", "tel%3A659***4567"),
    ],
)
def test_phone_numbers_are_masked(text: str, masked: str) -> None:
    assert logs.mask_phone(text) == masked


def test_secrets_and_numbers_never_reach_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("info", "json")
    structlog.get_logger().info(
        "callback_stored",
        recipient="+233241234567",
        api_token="tok-very-secret",
        headers={"authorization": "Basic dmVsaXA6c2VjcmV0", "x-ok": "1"},
        signing_secrets=["whsec_abc"],
    )
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["event"] == "callback_stored"
    assert record["recipient"] == "+233*****4567"
    for secret in ("tok-very-secret", "dmVsaXA6c2VjcmV0", "whsec_abc", "241234567"):
        assert secret not in line
    assert record["headers"]["x-ok"] == "1"


def test_tracebacks_are_scrubbed_too(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("info", "json")
    try:
        raise ValueError("could not deliver to +233241234567")
    except ValueError:
        structlog.get_logger().exception("adapter_crashed")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "241234567" not in line
    assert "+233*****4567" in line


@pytest.mark.parametrize(
    ("reason", "logged"),
    [
        ("body is not a valid form: bad query field: '%2B6591234567'", "body is not a valid form"),
        ("not a timestamp: 'tomorrow'", "not a timestamp"),
        ("form key 'msisdn' conflicts with another key", "form key '…' conflicts with another key"),
        ('unknown Gupshup callback (type "it\'s")', "unknown Gupshup callback (type '…')"),
        ("delivery report has no status", "delivery report has no status"),
    ],
)
def test_reasons_are_logged_without_the_values_they_quote(reason: str, logged: str) -> None:
    assert logs.reason_for_log(reason) == logged
