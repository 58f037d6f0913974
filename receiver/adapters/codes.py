"""Provider code tables: TOML data files in `codes/`, one per provider."""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from importlib import resources

from receiver.model import CodeInfo, ErrorClass, Status


class CodeTables:
    """The named tables of one provider: `tables[table][code] -> CodeInfo`."""

    def __init__(self, provider: str, tables: dict[str, dict[str, CodeInfo]]) -> None:
        self.provider = provider
        self.tables = tables
        # each table by casefolded code (the first code of a fold wins, as a scan would find)
        self._folded: dict[str, dict[str, CodeInfo]] = {}

    def lookup(self, table: str, code: str | int | None) -> CodeInfo | None:
        """The row for `code` in `table`, or None when the code is not mapped."""
        if code is None:
            return None
        return self.tables.get(table, {}).get(str(code).strip())

    def lookup_ci(self, table: str, code: str | None) -> CodeInfo | None:
        """Case-insensitive lookup (statuses such as `DELIVRD`/`delivrd`)."""
        if code is None:
            return None
        folded = self._folded.get(table)
        if folded is None:
            folded = {}
            for key, info in self.tables.get(table, {}).items():
                folded.setdefault(key.casefold(), info)
            self._folded[table] = folded
        return folded.get(code.strip().casefold())


def unmapped(code: str, status: Status = Status.UNKNOWN) -> CodeInfo:
    """The row used for a code no table knows: kept raw, class `unknown`."""
    return CodeInfo(
        code=code,
        status=status,
        error_class=ErrorClass.UNKNOWN,
        retryable=False,
        description="unmapped code",
        mapped=False,
    )


def combine(status: CodeInfo, error: CodeInfo | None) -> CodeInfo:
    """A status row with the class, retryability and description of an error row, if any.

    The error refines the status only when both are failures (an error turns `failed` into
    `rejected` or `expired`, never `read` or `sent` into a failure).
    """
    if error is None:
        return status
    refined = error.status if status.status.failure and error.status.failure else status.status
    return CodeInfo(
        error.code,
        refined,
        error.error_class,
        error.retryable,
        error.description,
        mapped=status.mapped and error.mapped,
    )


def refusal(error: CodeInfo) -> CodeInfo:
    """An error row read as a refused submit: `rejected` unless the row names a failure."""
    return error if error.status.failure else dataclasses.replace(error, status=Status.REJECTED)


@functools.cache
def load(provider: str) -> CodeTables:
    """Load `codes/<provider>.toml`.

    Layout: one array of tables per named table, each row with `code`, `status`,
    `error_class` (omit for success), `retryable` and `description`.
    """
    text = resources.files("receiver.adapters").joinpath(f"codes/{provider}.toml").read_text()
    data = tomllib.loads(text)
    tables: dict[str, dict[str, CodeInfo]] = {}
    for name, rows in data.items():
        if not isinstance(rows, list):
            continue
        table: dict[str, CodeInfo] = {}
        for row in rows:
            code = str(row["code"])
            if code in table:
                raise ValueError(f"codes/{provider}.toml: duplicate code {code!r} in [{name}]")
            error_class = row.get("error_class")
            table[code] = CodeInfo(
                code=code,
                status=Status(row["status"]),
                error_class=ErrorClass(error_class) if error_class else None,
                retryable=bool(row.get("retryable", False)),
                description=str(row.get("description", "")),
            )
        tables[name] = table
    return CodeTables(provider, tables)
