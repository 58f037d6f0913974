"""Named queries from `sql/queries/*.sql`, looked up by name."""

from __future__ import annotations

import sql


def get(name: str) -> str:
    """The SQL text of the named query; KeyError names a missing one."""
    return sql.queries()[name]
