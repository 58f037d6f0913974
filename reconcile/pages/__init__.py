"""Pages for people, shared by every wing that renders one (`/ops` now, the finance report
later): one jinja2 environment, one base layout (`base.html`: inline styles, a print
stylesheet, no external asset), and the formatting filters the pages use.

A wing renders its own templates with `environment(package)`: its package's `templates/`
folder first, then these shared ones (`{% extends "base.html" %}`)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import jinja2


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _num(value: float | int | None) -> str:
    """A number exactly as the JSON API has it (the page's script writes it the same way:
    JavaScript's `String(v)`; both print the shortest text that reads back the same)."""
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _cell(value: Any) -> str:
    """Any value in a table cell: times as `when` writes them, nothing as "-"."""
    if value is None or isinstance(value, datetime):
        return _when(value)
    return str(value)


@functools.cache
def environment(package: str) -> jinja2.Environment:
    """Templates of `package` (its `templates/` folder), then the shared ones."""
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.PackageLoader(package, "templates"),
                jinja2.PackageLoader("reconcile.pages", "templates"),
            ]
        ),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, num=_num, cell=_cell)
    return env


def render(package: str, name: str, **context: Any) -> str:
    return environment(package).get_template(name).render(**context)
