"""The two baselines bench/ingest compares dlrecon with, one process per worker (SO_REUSEPORT).

noop:  read the body and parse it (JSON, form or query), answer 200. The ceiling of aiohttp
       on this machine with this worker count: no verification, no storage.
naive: the same, then one INSERT into `naive_inbox` (a copy of dlrecon's inbox table, same
       columns and indexes) in its own transaction per request, then answer 200. No group commit.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import asyncpg
from aiohttp import web

INSERT = """
INSERT INTO naive_inbox (provider_key, method, path, query, headers, body, remote_addr,
                         verification, received_at, state)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, 'unverified', $8, 'pending')
"""


def parse(request: web.Request, body: bytes) -> object:
    content_type = request.content_type.lower()
    if "json" in content_type:
        return json.loads(body)
    if "x-www-form-urlencoded" in content_type:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    return list(request.query.items())


def build(mode: str, url: str | None) -> web.Application:
    app = web.Application()
    pool_key = web.AppKey("pool", asyncpg.Pool)

    async def noop(request: web.Request) -> web.Response:
        body = await request.read()
        parse(request, body)
        return web.Response(status=200)

    async def naive(request: web.Request) -> web.Response:
        body = await request.read()
        parse(request, body)
        await request.app[pool_key].execute(
            INSERT,
            request.match_info["provider"],
            request.method,
            request.path,
            request.query_string,
            json.dumps({k.lower(): v for k, v in request.headers.items()}),
            body,
            request.remote,
            datetime.now(UTC),
        )
        return web.Response(status=200)

    async def pool_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        app[pool_key] = await asyncpg.create_pool(url, min_size=2, max_size=10)
        yield
        await app[pool_key].close()

    handler = noop if mode == "noop" else naive
    if mode == "naive":
        app.cleanup_ctx.append(pool_ctx)
    app.router.add_route("GET", "/v1/callbacks/{provider}", handler)
    app.router.add_route("POST", "/v1/callbacks/{provider}", handler)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["noop", "naive"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    web.run_app(
        build(args.mode, args.database_url),
        host="127.0.0.1",
        port=args.port,
        reuse_port=True,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
