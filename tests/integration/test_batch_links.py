"""Items of one batch (a `POST /v1/messages` array, a chunk of an import) that share provider
ids or client refs: the same outcome as registering them one request at a time, in order."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from receiver.registration import importer
from receiver.registration import register as registration
from receiver.registration.model import ItemResult
from receiver.settings import Settings
from tests.support import auth

Outcome = tuple[frozenset[int], frozenset[frozenset[int]], frozenset[frozenset[tuple[str, int]]]]


def _item(ref: str | None, ids: list[str]) -> dict[str, Any]:
    item: dict[str, Any] = {"provider": "geniq", "provider_message_ids": ids}
    if ref is not None:
        item["client_ref"] = ref
    return item


def _chain(tag: str, n: int = 8) -> list[dict[str, Any]]:
    """Case (a): items sharing ids pairwise, [X0, X1], [X1, X2], ..., no client refs (the
    SQL links of before lost the end of such a chain: "already registered to message None")."""
    return [_item(None, [f"{tag}X{i}", f"{tag}X{i + 1}"]) for i in range(n)]


def _clash_then_free(tag: str) -> list[dict[str, Any]]:
    """Case (b): b conflicts with a (Y1); c shares only Y2 with b, which b never got."""
    return [
        _item(f"{tag}a", [f"{tag}Y1"]),
        _item(f"{tag}b", [f"{tag}Y1", f"{tag}Y2"]),
        _item(None, [f"{tag}Y2"]),
    ]


async def _parts(conn: asyncpg.Connection, message_id: int, tag: str) -> frozenset[tuple[str, int]]:
    rows = await conn.fetch(
        "SELECT provider_message_id, part_no FROM message_parts WHERE message_id = $1", message_id
    )
    return frozenset((r["provider_message_id"].removeprefix(tag), r["part_no"]) for r in rows)


async def _outcome(conn: asyncpg.Connection, results: list[ItemResult], tag: str) -> Outcome:
    """(items in error, items grouped by message, the parts of each message, tag removed)."""
    errors = frozenset(i for i, r in enumerate(results) if r.error)
    groups: dict[int, set[int]] = {}
    for i, r in enumerate(results):
        if r.message_id is not None:
            groups.setdefault(r.message_id, set()).add(i)
    parts = frozenset([await _parts(conn, m, tag) for m in groups])
    return errors, frozenset(frozenset(g) for g in groups.values()), parts


async def _batch(
    conn: asyncpg.Connection, settings: Settings, items: list[dict[str, Any]]
) -> list[ItemResult]:
    return await registration.register(conn, settings, items)


async def _one_by_one(
    conn: asyncpg.Connection, settings: Settings, items: list[dict[str, Any]]
) -> list[ItemResult]:
    results = []
    for n, item in enumerate(items):
        [result] = await registration.register(conn, settings, [item])
        results.append(ItemResult(n, result.message_id, result.created, result.error))
    return results


def _random_batch(rng: random.Random, tag: str) -> list[dict[str, Any]]:
    pool = [f"{tag}P{n}" for n in range(rng.randint(2, 5))]
    refs = [None, None, f"{tag}r1", f"{tag}r2", f"{tag}r3"]
    return [
        _item(rng.choice(refs), rng.sample(pool, rng.randint(1, min(3, len(pool)))))
        for _ in range(rng.randint(2, 7))
    ]


def _tagged(items: list[dict[str, Any]], old: str, new: str) -> list[dict[str, Any]]:
    """The same items under another tag (ids and refs), so that they meet nothing registered."""
    out = []
    for item in items:
        copy = dict(
            item, provider_message_ids=[p.replace(old, new) for p in item["provider_message_ids"]]
        )
        if "client_ref" in copy:
            copy["client_ref"] = copy["client_ref"].replace(old, new)
        out.append(copy)
    return out


async def test_a_long_chain_of_shared_ids_is_one_message(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    results = await _batch(conn, settings, _chain("ch"))
    assert all(r.error is None for r in results), results
    sequential = await _one_by_one(conn, settings, _chain("sq"))
    assert await _outcome(conn, results, "ch") == await _outcome(conn, sequential, "sq")


async def test_an_id_a_conflicting_item_carried_stays_free(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    a, b, c = await _batch(conn, settings, _clash_then_free("cf"))
    assert a.created and a.message_id is not None
    assert b.error == registration.conflict_error(a.message_id)
    assert c.created and c.message_id not in (None, a.message_id)
    assert await _parts(conn, a.message_id, "cf") == {("Y1", 0)}
    assert c.message_id is not None and await _parts(conn, c.message_id, "cf") == {("Y2", 0)}
    sequential = await _one_by_one(conn, settings, _clash_then_free("sq"))
    assert await _outcome(conn, [a, b, c], "cf") == await _outcome(conn, sequential, "sq")


async def test_random_batches_resolve_as_one_request_at_a_time(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    rng = random.Random(11)
    for trial in range(60):
        items = _random_batch(rng, f"b{trial}-")
        batch = await _batch(conn, settings, items)
        alone = _tagged(items, f"b{trial}-", f"s{trial}-")
        sequential = await _one_by_one(conn, settings, alone)
        assert await _outcome(conn, batch, f"b{trial}-") == await _outcome(
            conn, sequential, f"s{trial}-"
        ), items


async def test_both_cases_through_the_api(client: TestClient) -> None:
    items = [*_chain("api"), *_clash_then_free("api")]
    response = await client.post("/v1/messages", json=items, headers=auth("send"))
    assert response.status == 200
    results = (await response.json())["results"]
    chain, (a, b, c) = results[:8], results[8:]
    # one after the other, [X1, X2] is message 1 (by X1) but its X2 would be part 1, which that
    # message has (X1): X2 stays free and [X2, X3] is a new message; and so on, in pairs
    assert all("error" not in r for r in chain)
    assert [r["created"] for r in chain] == [True, False] * 4
    assert [r["message_id"] for r in chain[1::2]] == [r["message_id"] for r in chain[::2]]
    assert len({r["message_id"] for r in chain}) == 4
    assert a["created"] and c["created"] and c["message_id"] != a["message_id"]
    assert b["error"] == registration.conflict_error(a["message_id"])
    view = await client.get(f"/v1/messages/{c['message_id']}", headers=auth("read"))
    assert (await view.json())["provider_message_ids"] == ["apiY2"]


async def _import(
    conn: asyncpg.Connection, settings: Settings, path: Path, chunk_size: int
) -> importer.ImportReport:
    with path.open(newline="") as handle:
        records = importer.rows(path, handle, None, {})
        return await importer.import_messages(conn, settings, records, chunk_size=chunk_size)


async def _messages_of(conn: asyncpg.Connection, tag: str) -> frozenset[frozenset[tuple[str, int]]]:
    rows = await conn.fetch(
        "SELECT message_id, array_agg(provider_message_id) AS ids, array_agg(part_no) AS nos"
        " FROM message_parts WHERE provider_message_id LIKE $1 || '%' GROUP BY message_id",
        tag,
    )
    return frozenset(
        frozenset((pid.removeprefix(tag), no) for pid, no in zip(r["ids"], r["nos"], strict=True))
        for r in rows
    )


async def test_both_cases_through_an_import_file(
    conn: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    csv_file = tmp_path / "linked.csv"
    rows = [*_chain("IM"), *_clash_then_free("IM")]
    csv_file.write_text(
        "provider,client_ref,provider_message_ids\n"
        + "".join(
            f"geniq,{r.get('client_ref', '')},{'|'.join(r['provider_message_ids'])}\n" for r in rows
        )
    )
    report = await _import(conn, settings, csv_file, 1000)
    chain_ids = {(f"X{i}", i) for i in range(2)}  # the first row's parts; the others add none
    sequential = await _one_by_one(conn, settings, _tagged(rows, "IM", "SQ"))
    assert report.rows == 11 and report.created == await _count_created(sequential)
    [(line, error)] = report.errors
    assert line == 11 and error.startswith("provider_message_ids: already registered to message ")
    imported = await _messages_of(conn, "IM")
    assert imported == await _messages_of(conn, "SQ")
    assert frozenset(chain_ids) in imported and frozenset({("Y2", 0)}) in imported


async def _count_created(results: list[ItemResult]) -> int:
    return sum(1 for r in results if r.created)


async def test_random_import_chunks_resolve_as_one_row_at_a_time(
    conn: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    rng = random.Random(5)
    for trial in range(15):
        tag = f"i{trial}{uuid.uuid4().hex[:4]}-"
        items = _random_batch(rng, tag)
        path = tmp_path / f"{trial}.jsonl"
        path.write_text("".join(json.dumps(item) + "\n" for item in items))
        report = await _import(conn, settings, path, 1000)
        other = tag.replace("i", "q", 1)
        sequential = await _one_by_one(conn, settings, _tagged(items, tag, other))
        assert [line - 1 for line, _ in report.errors] == [
            i for i, r in enumerate(sequential) if r.error
        ], items
        assert await _messages_of(conn, tag) == await _messages_of(conn, other), items
