"""What a new user gets wrong when registering, and the clear per-item answer each gets: a
message that could never be matched, a destination that is no phone number, a body that is
not a message, a body over the limit. Good items of the same request are kept."""

from __future__ import annotations

import io

import pytest
from aiohttp.test_utils import TestClient

from receiver.registration.register import UNMATCHABLE
from tests.support import auth


async def register(client: TestClient, items: object) -> tuple[int, dict]:
    response = await client.post("/v1/messages", json=items, headers=auth("send"))
    return response.status, await response.json()


async def test_a_message_that_could_never_match_is_refused(client: TestClient) -> None:
    status, body = await register(
        client, [{"provider": "geniq"}, {"provider": "geniq", "client_ref": "kept-1"}]
    )
    assert status == 200
    refused, kept = body["results"]
    assert refused == {"index": 0, "error": UNMATCHABLE}
    assert kept["created"] is True and body["created"] == 1 and body["errors"] == 1


async def test_ids_from_the_submit_response_or_a_final_submit_are_enough(
    client: TestClient,
) -> None:
    geniq = {
        "provider": "geniq",
        "submit_http_status": 200,
        "submit_response": {"responseCode": "0", "messageIds": ["ID-FROM-RESPONSE"]},
    }
    refused_at_submit = {
        "provider": "hellio",
        "submit_http_status": 422,
        "submit_response": {"message": "bad numbers", "error": "no_valid_recipients"},
    }
    status, body = await register(client, [geniq, refused_at_submit])
    assert status == 200 and body["errors"] == 0 and body["created"] == 2


@pytest.mark.parametrize("channel", ["sms", "whatsapp", "voice"])
@pytest.mark.parametrize(
    "destination", ["not-a-phone", "+6512", "12", "+99912345678", "0091234567"]
)
async def test_a_destination_that_is_no_phone_number_is_refused(
    client: TestClient, channel: str, destination: str
) -> None:
    item = {"provider": "geniq", "client_ref": f"d-{channel}", "channel": channel}
    status, body = await register(client, [{**item, "destination": destination}])
    assert status == 400
    [result] = body["results"]
    assert result["error"].startswith("destination: not a"), result


async def test_destinations_are_stored_in_e164(client: TestClient) -> None:
    forms = ["+65 9123 4567", "6591234567", "tel:+6591234567", "+65-9123-4567"]
    items = [
        {"provider": "geniq", "client_ref": f"e164-{n}", "destination": d}
        for n, d in enumerate(forms)
    ]
    status, body = await register(client, items)
    assert status == 200 and body["errors"] == 0
    for result in body["results"]:
        response = await client.get(f"/v1/messages/{result['message_id']}", headers=auth("read"))
        assert (await response.json())["destination"] == "+6591234567"


async def test_errors_speak_the_senders_language(client: TestClient) -> None:
    status, body = await register(
        client, ["just a string", {"provider": "geniq", "client_ref": "x", "colour": "red"}]
    )
    assert status == 400
    not_object, unknown_field = (r["error"] for r in body["results"])
    assert not_object == "each message must be a JSON object with the message's fields"
    assert unknown_field.startswith("colour: not a field of a message (fields: provider,")
    assert "MessageIn" not in str(body) and "Extra inputs" not in str(body)
    status, body = await register(client, {"provider": "geniq", "client_ref": "c", "currency": "x"})
    assert body["results"][0]["error"] == (
        "currency: a three-letter ISO 4217 code in capitals, such as EUR"
    )


async def test_a_body_over_the_limit_says_what_the_limit_is(client: TestClient) -> None:
    response = await client.post("/v1/callbacks/open", data=io.BytesIO(b"x" * (1024 * 1024 + 1)))
    assert response.status == 413
    error = (await response.json())["error"]
    assert error["code"] == "too_large"
    assert error["message"].endswith("at most 1048576 bytes (1 MiB)")
    assert error["limit_bytes"] == 1024 * 1024
