"""What commands print: a table for people, or JSON / CSV for scripts (only the data on
stdout: logs and progress go to stderr)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import click

from receiver.exactjson import dumps

FORMATS = click.Choice(["table", "json", "csv"])


def render(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], fmt: str) -> str:
    """`rows` as a table, a JSON array, or CSV with a header line."""
    listed = list(rows)
    if fmt == "json":
        return dumps(listed, indent=2)
    if fmt == "csv":
        return csv_text(listed, columns)
    return table(listed, columns)


def csv_text(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().rstrip("\n")


def table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A plain text table for people."""
    text_rows = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c), *(len(r[i]) for r in text_rows)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in text_rows]
    return "\n".join(line.rstrip() for line in lines)


def cell(value: Any) -> str:
    """One value as a table shows it."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def echo_json(data: Any) -> None:
    """`data` as indented JSON on stdout (money as strings, times ISO 8601)."""
    click.echo(dumps(data, indent=2))
