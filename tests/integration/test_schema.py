"""The schema the migrations make, and every named query against it.

- The migrated schema equals the checked-in `tests/data/schema.txt` (tables and columns,
  constraints, indexes, functions, types): a migration that changes something unexpected fails
  here. After an intended change, regenerate the file with
  `DLRECON_WRITE_SCHEMA=1 ./dev test tests/integration/test_schema.py` and review its diff.
- Every named query of `sql/queries` is prepared (parsed, planned, its parameters typed) against
  the migrated schema, so a query that names a column no migration makes fails here, not in
  production.
"""

from __future__ import annotations

import os

import asyncpg
import pytest

import sql
from receiver.db import queries
from reconcile.db import runs
from tests.support import DATA

EXPECTED = DATA / "schema.txt"
# the inbox's and the events' monthly partitions (migrations 0012, 0013) are named after the
# months of the run: left out, like their indexes and constraints (the parents, and their
# default partitions, are in)
_NOT_A_MONTH = r"!~ '^(inbox_requests|events)_[0-9]{6}$'"

_SECTIONS = {
    "columns": """
        SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
               || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
               || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
               || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'c')
          AND a.attnum > 0 AND NOT a.attisdropped AND c.relname MONTH
        ORDER BY c.relname, a.attnum""",
    "relations": """
        SELECT c.relname || ' ' || c.relkind::text
               || coalesce(' partition of ' || (SELECT p.relname FROM pg_inherits i
                                              JOIN pg_class p ON p.oid = i.inhparent
                                              WHERE i.inhrelid = c.oid), '')
               || coalesce(' ' || pg_get_partkeydef(c.oid), '')
        FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'c', 'v', 'S')
          AND c.relname MONTH
        ORDER BY c.relname""",
    "constraints": """
        SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace AND conrelid <> 0 AND contype <> 'n'
          AND conrelid::regclass::text MONTH
        ORDER BY conrelid::regclass::text, conname""",
    "indexes": """
        SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename MONTH
        ORDER BY tablename, indexname""",
    "functions": """
        SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') -> '
               || pg_get_function_result(p.oid) || ' ' || p.provolatile::text || E'\\n'
               || btrim(p.prosrc, E' \\n')
        FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace
        ORDER BY p.proname, pg_get_function_identity_arguments(p.oid)""",
}


async def describe_schema(conn: asyncpg.Connection) -> str:
    parts = []
    for name, query in _SECTIONS.items():
        rows = [r[0] for r in await conn.fetch(query.replace("MONTH", _NOT_A_MONTH))]
        parts.append(f"-- {name}\n" + "\n".join(rows))
    return "\n\n".join(parts) + "\n"


async def test_the_migrated_schema_is_the_expected_one(conn: asyncpg.Connection) -> None:
    actual = await describe_schema(conn)
    if os.environ.get("DLRECON_WRITE_SCHEMA") == "1":
        EXPECTED.write_text(actual)
    expected = EXPECTED.read_text()
    assert actual == expected, (
        "the migrated schema differs from tests/data/schema.txt; if the change is intended, "
        "regenerate it: DLRECON_WRITE_SCHEMA=1 ./dev test tests/integration/test_schema.py"
    )


# temporary tables some named queries use, and the named queries that make them (in order)
_TEMPORARY = {
    "message_staging": ("create_message_staging",),
    "invoice_staging": ("create_invoice_staging",),
    "rate_card_staging": ("create_rate_card_staging",),
    # a reconciliation run's working tables
    "run_": runs.PREPARE,
}


async def _make(conn: asyncpg.Connection, name: str) -> None:
    text = queries.get(name)
    await conn.execute(text, *([None] * text.count("$1")))


@pytest.mark.parametrize("name", sorted(sql.queries()))
async def test_every_named_query_prepares_against_the_schema(
    conn: asyncpg.Connection, name: str
) -> None:
    text = queries.get(name)
    async with conn.transaction():
        for table, setup in _TEMPORARY.items():
            if name in setup:
                for step in setup[: setup.index(name)]:
                    await _make(conn, step)
                if text.lstrip().upper().startswith("CREATE"):
                    await _make(conn, name)
                    return
                break
            if table in text:
                for step in setup:
                    await _make(conn, step)
                break
        if text.split(None, 1)[0].upper() == "ANALYZE":
            await conn.execute(text)  # a utility statement: run, not prepared
            return
        await conn.prepare(text)
