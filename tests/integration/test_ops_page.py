"""The /ops page's access: behind the read scope (bearer header, or the session a login form
sets), CSRF-safe sign in and out, a cookie that only ever authorizes reading."""

from __future__ import annotations

import re

import asyncpg
from aiohttp.test_utils import TestClient

from tests.support import TOKENS, auth


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden {name} in the page"
    return found.group(1)


async def _login(client: TestClient, token: str) -> tuple[int, str]:
    form = await client.get("/ops/login")
    html = await form.text()
    response = await client.post(
        "/ops/login",
        data={"token": token, "csrf": _hidden(html, "csrf"), "next": "/ops"},
        allow_redirects=False,
    )
    return response.status, response.headers.get("Set-Cookie", "")


async def test_without_credentials_the_page_sends_to_the_login_form(client: TestClient) -> None:
    response = await client.get("/ops?x=1", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/ops/login?next=%2Fops%3Fx%3D1"
    api = await client.get("/v1/providers/health")
    assert api.status == 401  # the API answers JSON, no redirect


async def test_a_bearer_header_opens_the_page(client: TestClient) -> None:
    response = await client.get("/ops", headers=auth("read"))
    assert response.status == 200
    html = await response.text()
    assert "Provider health" in html and "Quarantined and held" in html
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    # no external asset: every src/href is on this site, a fragment or data:
    for url in re.findall(r'(?:src|href|action)="([^"]*)"', html):
        assert url.startswith(("/", "#", "data:")), url
    send_only = await client.get("/ops", headers=auth("send"))
    assert send_only.status == 403


async def test_login_sets_a_strict_http_only_cookie_that_only_reads(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    status, cookie = await _login(client, TOKENS["read"])
    assert status == 303
    assert "dlrecon_ops=" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = await client.get("/ops")  # the client keeps the cookie
    assert page.status == 200
    assert (await client.get("/v1/providers/health")).status == 200
    assert (await client.get("/v1/inbox")).status == 200
    # the cookie authorizes no write, whatever the token's other scopes
    posted = await client.post("/v1/messages", json={"provider": "open"})
    assert posted.status == 401
    assert await conn.fetchval("SELECT count(*) FROM messages") == 0


async def test_an_admin_token_session_still_grants_only_read(client: TestClient) -> None:
    status, _ = await _login(client, TOKENS["admin"])
    assert status == 303
    assert (await client.get("/ops")).status == 200
    assert (await client.post("/v1/messages", json={"provider": "open"})).status == 401


async def test_login_refuses_a_wrong_token_a_missing_csrf_and_a_foreign_origin(
    client: TestClient,
) -> None:
    status, cookie = await _login(client, "not-a-token-at-all")
    assert status == 401 and "dlrecon_ops=" not in cookie
    status, cookie = await _login(client, TOKENS["send"])  # no read scope
    assert status == 401 and "dlrecon_ops=" not in cookie
    form = await client.get("/ops/login")
    csrf = _hidden(await form.text(), "csrf")
    no_csrf = await client.post(
        "/ops/login", data={"token": TOKENS["read"], "csrf": "forged"}, allow_redirects=False
    )
    assert no_csrf.status == 403
    foreign = await client.post(
        "/ops/login",
        data={"token": TOKENS["read"], "csrf": csrf},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert foreign.status == 403
    assert "dlrecon_ops=" not in foreign.headers.get("Set-Cookie", "")


async def test_next_never_leaves_the_site(client: TestClient) -> None:
    form = await client.get("/ops/login", params={"next": "//evil.example/x"})
    html = await form.text()
    assert _hidden(html, "next") == "/ops"


async def test_logout_needs_its_csrf_token_and_ends_the_session(client: TestClient) -> None:
    await _login(client, TOKENS["read"])
    page = await (await client.get("/ops")).text()
    forged = await client.post("/ops/logout", data={"csrf": "nope"}, allow_redirects=False)
    assert forged.status == 403
    assert (await client.get("/ops", allow_redirects=False)).status == 200
    out = await client.post(
        "/ops/logout", data={"csrf": _hidden(page, "csrf")}, allow_redirects=False
    )
    assert out.status == 303
    assert (await client.get("/ops", allow_redirects=False)).status == 303


async def test_a_tampered_or_expired_cookie_is_no_session(client: TestClient) -> None:
    await _login(client, TOKENS["read"])
    jar = client.session.cookie_jar
    value = next(c.value for c in jar if c.key == "dlrecon_ops")
    expiry, nonce, mac = value.split(".")
    for forged in (
        f"{expiry}.{nonce}.{'0' * 64}",
        f"{int(expiry) + 10}.{nonce}.{mac}",
        f"1.{nonce}.{mac}",
    ):
        jar.clear()
        jar.update_cookies({"dlrecon_ops": forged})
        assert (await client.get("/ops", allow_redirects=False)).status == 303, forged


async def test_the_trace_page_shows_each_event_and_the_request_it_came_from(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    from tests.integration.test_ingestion import GENIQ_IDS, geniq_message, geniq_report, send
    from tests.support import SECRETS, eventually

    response = await client.post("/v1/messages", json=geniq_message(), headers=auth("send"))
    message_id = (await response.json())["results"][0]["message_id"]
    assert await send(client, "geniq", geniq_report(GENIQ_IDS[0], "delivered")) == 200

    async def processed() -> bool:
        return bool(await conn.fetchval("SELECT count(*) = 0 FROM inbox WHERE state = 'pending'"))

    await eventually(processed)
    inbox_id = await conn.fetchval("SELECT id FROM inbox")
    page = await client.get(f"/ops/messages/{message_id}", headers=auth("read"))
    html = await page.text()
    assert page.status == 200
    assert f'id="request-{inbox_id}"' in html and f'href="#request-{inbox_id}"' in html
    assert "messageId=" + GENIQ_IDS[0] in html
    assert SECRETS["geniq_token"] not in html
    assert (await client.get("/ops/messages/999999", headers=auth("read"))).status == 404
    inbox_page = await client.get(f"/ops/inbox/{inbox_id}", headers=auth("read"))
    assert inbox_page.status == 200 and "processed" in await inbox_page.text()
