"""A lone surrogate (a JSON escape such as "\\ud800" that pairs with nothing) cannot be stored:
the item that carries one is refused alone, not the whole request (a 500) or chunk."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.support import auth

GOOD = '{"provider": "geniq", "client_ref": "ls-good", "provider_message_ids": ["LS01"]}'
BAD = (
    '{"provider": "geniq", "client_ref": "ls-bad", "submit_http_status": 200,'
    ' "submit_response": {"reference": "r\\ud800", "responseCode": "0",'
    '                     "responseMessage": "m", "messageIds": ["LS02"]}}'
)
BAD_KEY = '{"provider": "geniq", "client_ref": "ls-key", "submit_response": {"\\udfff": 1}}'
JSON = {**auth("send"), "Content-Type": "application/json"}


async def test_a_lone_surrogate_in_a_submit_response_is_refused_per_item(
    client: TestClient,
) -> None:
    response = await client.post("/v1/messages", data=f"[{GOOD}, {BAD}, {BAD_KEY}]", headers=JSON)
    assert response.status == 200
    body = await response.json()
    good, bad, key = body["results"]
    assert good["created"] and good["message_id"]
    for result in (bad, key):
        assert result["error"].startswith("contains a lone surrogate"), result
        assert "cannot be stored" in result["error"]
    assert body["created"] == 1 and body["errors"] == 2
    only_bad = await client.post("/v1/messages", data=f"[{BAD}]", headers=JSON)
    assert only_bad.status == 400  # every item refused, as for any other bad item
