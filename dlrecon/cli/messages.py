"""`dlrecon import messages` and `dlrecon trace`: registered messages in, their story out."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from dlrecon import app
from dlrecon.cli import database, imports, output
from dlrecon.cli.context import Context, pass_context
from dlrecon.settings import Settings
from receiver import trace as trace_module
from receiver.db.pool import connection
from receiver.exactjson import dumps
from receiver.registration import importer
from receiver.views import MessageView


@imports.group.command("messages")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    help="File format (default: by extension).",
)
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="NAME=HEADER",
    help="Read field NAME from CSV column HEADER (repeatable).",
)
@imports.encoding_option
@pass_context
def import_messages(
    ctx: Context, file: Path, fmt: str | None, columns: tuple[str, ...], encoding: str
) -> None:
    """Register sent messages from a CSV or JSONL file; bad lines are reported, good ones kept.

    The layouts are in docs/imports.md."""
    s = ctx.settings
    mapping = dict(c.split("=", 1) for c in columns if "=" in c)
    total_lines = imports.count_lines(file, encoding)
    with database.database_url(s) as url:
        report = database.run(_import(s, url, file, fmt, mapping, encoding, total_lines))
    for line, reason in report.errors:
        click.echo(f"{file}:{line}: {reason}", err=True)
    click.echo(
        f"{report.rows} rows: {report.created} created, {report.existing} already "
        f"registered, {len(report.errors)} rejected"
    )
    if report.errors:
        sys.exit(1)


async def _import(
    s: Settings,
    url: str,
    file: Path,
    fmt: str | None,
    mapping: dict[str, str],
    encoding: str,
    total_lines: int,
) -> importer.ImportReport:
    async with database.pool(s, url, size=1) as pool, connection(pool) as conn:
        with (
            open(file, newline="", encoding=encoding) as handle,
            click.progressbar(length=total_lines, label="importing", file=sys.stderr) as bar,
        ):
            records = importer.rows(file, handle, fmt, mapping)
            return await importer.import_messages(conn, s, records, progress=bar.update)


@click.command()
@click.argument("message_id", required=False, type=int)
@click.option("--provider", help="Provider key (with --provider-message-id).")
@click.option("--provider-message-id", help="The provider's id for the message.")
@click.option("--client-ref", help="The client reference.")
@click.option("--format", "fmt", type=output.FORMATS, default="table")
@pass_context
def trace(
    ctx: Context,
    message_id: int | None,
    provider: str | None,
    provider_message_id: str | None,
    client_ref: str | None,
    fmt: str,
) -> None:
    """What happened to a message: status, money and every event."""
    if message_id is None and not (provider_message_id or client_ref):
        raise click.UsageError("give MESSAGE_ID, --provider-message-id or --client-ref")
    s = ctx.settings
    with database.database_url(s) as url:
        views = database.run(_trace(s, url, message_id, provider, provider_message_id, client_ref))
    if not views:
        raise click.ClickException("no such message")
    click.echo(render_trace(views, fmt))


async def _trace(
    s: Settings,
    url: str,
    message_id: int | None,
    provider: str | None,
    provider_message_id: str | None,
    client_ref: str | None,
) -> list[MessageView]:
    async with database.pool(s, url, size=1) as pool, connection(pool) as conn:
        if message_id is not None:
            view = await trace_module.message_view(conn, message_id, app.trace_sections())
            return [view] if view else []
        return await trace_module.find(
            conn,
            s,
            provider=provider,
            provider_message_id=provider_message_id,
            client_ref=client_ref,
            sections=app.trace_sections(),
        )


EVENT_COLUMNS = (
    "source",
    "status",
    "raw_status",
    "error_code",
    "provider_time",
    "received_at",
    "provider_message_id",
    "part_no",
    "cost",
    "inbox_id",
)


def render_trace(views: Sequence[MessageView], fmt: str) -> str:
    """Messages and their timelines: JSON as the API answers, CSV of the events, or a block
    per message for people."""
    if fmt == "json":
        return dumps([v.to_json() for v in views], indent=2)
    if fmt == "csv":
        rows = [{"message_id": v.id, **e.to_json()} for v in views for e in v.events]
        return output.csv_text(rows, ["message_id", *EVENT_COLUMNS])
    return "\n\n".join(_block(v) for v in views)


def _block(v: MessageView) -> str:
    error = v.error
    head = [
        f"message {v.id}  {v.provider}/{v.channel}  client_ref={v.client_ref}",
        f"  status: {v.status}{' (final)' if v.final else ''}"
        f"{'  CONFLICT' if v.conflict else ''}  at {v.status_at}",
        f"  error: {error.code} ({error.class_})" if error else "  error: -",
        f"  ids: {', '.join(v.provider_message_ids) or '-'}",
        f"  value: {v.value} {v.currency or ''}  cost: {v.cost}  "
        f"provider cost: {v.provider_cost} {v.provider_currency or ''}",
    ]
    events = output.table([e.to_json() for e in v.events], EVENT_COLUMNS)
    parts = ["\n".join(head), events]
    for r in v.requests:
        query = f"?{r.query}" if r.query else ""
        body = r.body if r.body is not None else f"(base64) {r.body_base64}"
        parts.append(
            "\n".join(
                [
                    f"  request {r.id}: {r.method} {r.path}{query}  received {r.received_at}  "
                    f"{r.state}{f' ({r.state_reason})' if r.state_reason else ''}  "
                    f"verification {r.verification}",
                    *(f"    {name}: {value}" for name, value in sorted(r.headers.items())),
                    f"    body ({r.body_bytes} bytes): {_shortened(body)}",
                ]
            )
        )
    for name, items in v.sections.items():
        listed = "\n".join(_item(item) for item in items) or "    (none)"
        parts.append(f"  {name}:\n{listed}")
    return "\n".join(parts) + _polls(v)


def _item(item: dict[str, Any]) -> str:
    """One item of a wing's section (a finding...) on one line: its fields as key=value."""
    return "    " + "  ".join(f"{key}={output.cell(value)}" for key, value in item.items())


def _shortened(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more)"


POLL_COLUMNS = ("requested_at", "kind", "outcome", "http_status", "duration_ms", "inbox_id")


def _polls(v: MessageView) -> str:
    """The polls made for the message, and when it is polled next (nothing if never polled)."""
    if not v.polls and v.poll_schedule is None:
        return ""
    lines = ["", "  polls:"]
    if v.poll_schedule is not None:
        s = v.poll_schedule
        state = (
            f"done ({s.done_reason}) at {s.done_at}" if s.done_at else f"next at {s.next_poll_at}"
        )
        lines.append(f"  schedule: {s.attempts} answered, {s.failures} failed in a row, {state}")
    if v.polls:
        lines.append(output.table([p.to_json() for p in v.polls], POLL_COLUMNS))
    return "\n".join(lines)
