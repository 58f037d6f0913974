"""The SQL status functions (migration 0004 and 0001) agree with the Python model for every
status, so no query and no Python check can disagree about what is final or a failure."""

from __future__ import annotations

import asyncpg
import pytest

from receiver.model import Status


@pytest.mark.parametrize("status", list(Status), ids=str)
async def test_sql_status_functions_agree_with_the_model(
    conn: asyncpg.Connection, status: Status
) -> None:
    row = await conn.fetchrow(
        "SELECT dlrecon_status_rank($1) AS rank, dlrecon_status_final($1) AS final,"
        " dlrecon_status_failure($1) AS failure, dlrecon_status_success($1) AS success",
        status.value,
    )
    assert row is not None
    assert row["rank"] == status.rank
    assert row["final"] is status.final
    assert row["failure"] is status.failure
    assert row["success"] is status.success


async def test_an_unknown_status_is_in_no_set(conn: asyncpg.Connection) -> None:
    row = await conn.fetchrow(
        "SELECT dlrecon_status_rank('nope') AS rank, dlrecon_status_final('nope') AS final,"
        " dlrecon_status_failure('nope') AS failure, dlrecon_status_success('nope') AS success"
    )
    assert row is not None
    assert (row["rank"], row["final"], row["failure"], row["success"]) == (
        None,
        False,
        False,
        False,
    )
