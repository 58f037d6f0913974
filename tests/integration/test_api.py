import io
import re

from aiohttp.test_utils import TestClient, TestServer

from dlrecon.app import build_app
from tests.support import auth, make_settings


async def test_health_ready_and_metrics(client: TestClient) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["status"] == "ready"
    await client.get("/v1/callbacks/nope")
    metrics = await (await client.get("/metrics")).text()
    assert "dlrecon_http_requests_total" in metrics
    assert "process_resident_memory_bytes" in metrics


async def test_readyz_is_503_while_migrations_are_pending(empty_database_url: str) -> None:
    settings = make_settings(database={"migrate_on_start": False})
    async with TestClient(TestServer(build_app(settings, empty_database_url))) as c:
        response = await c.get("/readyz")
        assert response.status == 503
        assert "0001_initial.sql" in (await response.json())["pending_migrations"]


async def test_api_requires_tokens_with_scopes(client: TestClient) -> None:
    no_token = await client.get("/v1/messages/1")
    assert no_token.status == 401
    assert (await no_token.json())["error"]["code"] == "authentication_failed"
    wrong = await client.get("/v1/messages/1", headers={"Authorization": "Bearer not-a-token"})
    assert wrong.status == 401
    lacking = await client.post("/v1/messages", json={"provider": "open"}, headers=auth("read"))
    assert lacking.status == 403
    assert (await lacking.json())["error"]["code"] == "permission_denied"
    ok = await client.get("/v1/messages/1", headers=auth("read"))
    assert ok.status == 404
    assert (await client.get("/v1/openapi.json", headers=auth("read"))).status == 200


async def test_callbacks_need_no_token_but_a_known_key(client: TestClient) -> None:
    response = await client.post("/v1/callbacks/unknown-key", data=b"{}")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"
    response = await client.put("/v1/callbacks/open", data=b"{}")
    assert response.status == 405


async def test_oversized_callback_is_413(client: TestClient) -> None:
    body = io.BytesIO(b"x" * (1024 * 1024 + 1))
    response = await client.post("/v1/callbacks/open", data=body)
    assert response.status == 413


async def test_every_response_has_a_request_id(client: TestClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": "abc123"})
    assert response.headers["X-Request-Id"] == "abc123"
    assert (await client.get("/healthz")).headers["X-Request-Id"]


async def test_unsafe_request_ids_are_replaced(client: TestClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": "bad id with spaces; " * 10})
    replaced = response.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{20}", replaced)
    assert (await client.get("/healthz")).headers["X-Request-Id"] != replaced
