"""`messages.link`: the items of one batch as if registered one after the other, and the
import's retry of a chunk that Postgres aborted for a deadlock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from receiver.db import imports
from receiver.db.pool import RETRY_ATTEMPTS
from receiver.registration import importer, links


def _link(*items: tuple[str | None, list[str]]) -> dict[int, Any]:
    return links.link((n, "p", ref, ids) for n, (ref, ids) in enumerate(items))


def test_items_without_shared_ids_are_not_linked() -> None:
    assert _link(("a", ["1"]), (None, ["2"]), ("a", []), (None, [])) == {2: (0, None, [])}


def test_a_long_chain_goes_in_pairs() -> None:
    """[X0, X1] makes a message; [X1, X2] is it, but X2 would be its part 1, which it has (X1):
    X2 stays free, so [X2, X3] is a new message; and so on. Never a conflict."""
    links = _link(*((None, [f"X{i}", f"X{i + 1}"]) for i in range(8)))
    assert links == {1: (0, None, []), 3: (2, None, []), 5: (4, None, []), 7: (6, None, [])}


def test_an_id_of_a_conflicting_item_stays_free() -> None:
    links = _link(("a", ["Y1"]), ("b", ["Y1", "Y2"]), (None, ["Y2"]))
    assert links == {1: (None, 0, None)}


def test_client_ref_first_then_the_first_id_held() -> None:
    links = _link(
        ("a", ["1"]),
        (None, ["2"]),
        ("a", ["3", "9"]),  # by client ref: message 0, adds 9 as part 1
        ("b", ["2", "1"]),  # by its first id held: message 1 (no client ref), no clash
        ("c", ["9"]),  # 9 is message 0's, whose client ref is a: a conflict
        (None, ["9", "4", "5"]),  # message 0: 5 as part 2 (parts 0 and 1 are taken)
    )
    assert links == {
        2: (0, None, [1]),
        3: (1, None, []),
        4: (None, 0, None),
        5: (0, None, [2]),
    }


def test_links_travel_in_the_copy_data() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    base = (None,) * (len(imports.COLUMNS) - 2)

    def record(line: int, ref: str | None, ids: list[str]) -> tuple[Any, ...]:
        row = list(base)
        row[:4] = [line, "p", "sms", ref]
        row[imports.COLUMNS.index("provider_message_ids")] = ids
        return (*row, True, now)

    staged = [record(2, None, ["A", "B"]), record(3, None, ["B", "C"])]
    records = imports.with_links(staged, links.link(imports.link_keys(staged)))
    assert records[0][-5:-2] == (None, None, None) and records[1][-5:-2] == (2, None, [])
    data = imports.copy_data(records).decode().splitlines()
    assert data[1].split("\t")[-5:-2] == ["2", "\\N", "{}"]


class _Deadlocks:
    """`imports.stage` failing with a deadlock a given number of times."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self, conn: Any, chunk: Any) -> imports.ChunkResult:
        self.calls += 1
        if self.calls <= self.failures:
            raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
        return imports.ChunkResult(created=2, existing=1, conflicts=[(7, 42)])


def _chunk() -> Any:
    return importer._Chunk(5, datetime.now(UTC), staged=[("x",)], errors=[(3, "bad")])


async def test_a_chunk_aborted_for_a_deadlock_is_written_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempt = _Deadlocks(failures=3)
    monkeypatch.setattr(importer, "_write_once", attempt)
    report = importer.ImportReport()
    await importer._write(object(), _chunk(), report)  # type: ignore[arg-type]
    assert attempt.calls == 4
    # counted once, not once per attempt
    assert (report.rows, report.created, report.existing) == (5, 2, 1)
    assert [line for line, _ in report.errors] == [3, 7]


async def test_a_chunk_that_keeps_deadlocking_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    attempt = _Deadlocks(failures=10)
    monkeypatch.setattr(importer, "_write_once", attempt)
    with pytest.raises(asyncpg.exceptions.DeadlockDetectedError):
        await importer._write(object(), _chunk(), importer.ImportReport())  # type: ignore[arg-type]
    assert attempt.calls == RETRY_ATTEMPTS
