"""The `dlrecon` command line."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from dlrecon import runtime
from receiver import importer, logs, lookup, processor
from receiver import settings as settings_module
from receiver.db import inbox as inbox_store
from receiver.db import pool as db_pool
from receiver.http.bodies import dumps
from receiver.metrics import Metrics
from receiver.settings import Settings

FORMATS = click.Choice(["table", "json", "csv"])


class Context:
    def __init__(self, config: Path | None) -> None:
        self.config = config
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = settings_module.load(self.config)
            except settings_module.ConfigError as exc:
                click.echo(f"error: {exc}", err=True)
                sys.exit(2)
            logs.configure(self._settings.log.level, self._settings.log.format)
        return self._settings


pass_context = click.make_pass_decorator(Context)


@click.group()
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    envvar="DLRECON_CONFIG",
    help="TOML configuration file (default: $DLRECON_CONFIG).",
)
@click.version_option(package_name="dlrecon")
@click.pass_context
def cli(ctx: click.Context, config: Path | None) -> None:
    """dlrecon: delivery reports in, reconciled truth out."""
    ctx.obj = Context(config)


@cli.command()
@click.option("--host", help="Address to listen on (default from [server]).")
@click.option("--port", type=int, help="Port (default from [server]).")
@click.option("--workers", type=click.IntRange(1, 64), help="Server processes (SO_REUSEPORT).")
@click.option("--no-migrate", is_flag=True, help="Do not apply pending migrations at start.")
@pass_context
def serve(
    ctx: Context, host: str | None, port: int | None, workers: int | None, no_migrate: bool
) -> None:
    """Run the HTTP service (callbacks, API, processor)."""
    s = ctx.settings
    with runtime.database_url(s) as url:
        if no_migrate:
            runtime.run_async(_check_connection(url, s.database.connect_timeout))
        else:
            applied = runtime.run_async(runtime.migrate(url, s.database.connect_timeout))
            for name in applied:
                click.echo(f"applied migration {name}", err=True)
        runtime.serve(
            s,
            url,
            host or s.server.host,
            port if port is not None else s.server.port,
            workers or s.server.workers,
        )


async def _check_connection(url: str, timeout: float) -> None:
    conn = await db_pool.connect(url, timeout=timeout)
    await conn.close()


@cli.command()
@pass_context
def migrate(ctx: Context) -> None:
    """Apply pending database migrations."""
    s = ctx.settings
    with runtime.database_url(s) as url:
        applied = runtime.run_async(runtime.migrate(url, s.database.connect_timeout))
    click.echo("\n".join(f"applied {n}" for n in applied) or "nothing to apply")


@cli.group()
def db() -> None:
    """The database in use."""


@db.command("url")
@pass_context
def db_url(ctx: Context) -> None:
    """Print the database URL in use (starts the embedded Postgres if needed)."""
    with runtime.database_url(ctx.settings, keep_running=True) as url:
        click.echo(url)


@db.command("stop")
@pass_context
def db_stop(ctx: Context) -> None:
    """Stop the embedded Postgres (when no DATABASE_URL is configured)."""
    if ctx.settings.database.url is not None:
        raise click.ClickException("a DATABASE_URL is configured: nothing embedded to stop")
    embedded = runtime.embedded_for(ctx.settings)
    if (owner := embedded.owner()) is not None:
        raise click.ClickException(f"in use by dlrecon process {owner}: stop that one instead")
    embedded.owned = True
    embedded.stop()
    click.echo("stopped")


@cli.command()
@click.option("--once", is_flag=True, help="Process what is pending, then exit.")
@pass_context
def process(ctx: Context, once: bool) -> None:
    """Turn stored callbacks into events (`serve` runs this too, unless told not to)."""
    s = ctx.settings
    with runtime.database_url(s) as url:
        n = runtime.run_async(_process(s, url, once))
    click.echo(f"processed {n} inbox rows")


async def _process(s: Settings, url: str, once: bool) -> int:
    if not once:
        await runtime.run_processor(s, url, wait_for_database=False)
        return 0
    pool = await db_pool.create(url, min_size=1, max_size=2, timeout=s.database.connect_timeout)
    try:
        return await processor.drain(pool, s, Metrics())
    finally:
        await pool.close()


@cli.command()
@click.option("--quarantined", is_flag=True, help="Only rows quarantined by a parse error.")
@click.option(
    "--release-held",
    is_flag=True,
    help="Also process rows held because their verification failed (verify = quarantine).",
)
@click.option("--provider", help="Only this provider key.")
@click.option("--since", type=click.DateTime(), help="Only rows received since (UTC).")
@pass_context
def replay(
    ctx: Context,
    quarantined: bool,
    release_held: bool,
    provider: str | None,
    since: datetime | None,
) -> None:
    """Re-run adapters over stored raw requests (duplicates are dropped by the dedupe key).

    Rows that failed verification are only ever processed with --release-held.
    """
    s = ctx.settings
    states = ["quarantined"] if quarantined else ["processed", "quarantined"]
    if release_held:
        states.append("held")
    with runtime.database_url(s) as url:
        released, processed = runtime.run_async(_replay(s, url, states, provider, since))
    click.echo(f"released {released} inbox rows; processed {processed}")


async def _replay(
    s: Settings, url: str, states: list[str], provider: str | None, since: datetime | None
) -> tuple[int, int]:
    from datetime import UTC

    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    pool = await db_pool.create(url, min_size=1, max_size=2, timeout=s.database.connect_timeout)
    try:
        async with pool.acquire() as conn:
            released = await inbox_store.release(
                conn, states=states, provider_key=provider, since=since
            )
        processed = await processor.drain(pool, s, Metrics())
        return released, processed
    finally:
        await pool.close()


@cli.group("import")
def import_group() -> None:
    """Import files."""


@import_group.command("messages")
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
@pass_context
def import_messages(ctx: Context, file: Path, fmt: str | None, columns: tuple[str, ...]) -> None:
    """Register sent messages from a CSV or JSONL file; bad lines are reported, good ones kept."""
    s = ctx.settings
    mapping = dict(c.split("=", 1) for c in columns if "=" in c)
    with runtime.database_url(s) as url:
        report = runtime.run_async(_import(s, url, file, fmt, mapping))
    for line, reason in report.errors:
        click.echo(f"{file}:{line}: {reason}", err=True)
    click.echo(
        f"{report.rows} rows: {report.created} created, {report.existing} already "
        f"registered, {len(report.errors)} rejected"
    )
    if report.errors:
        sys.exit(1)


async def _import(
    s: Settings, url: str, file: Path, fmt: str | None, mapping: dict[str, str]
) -> importer.ImportReport:
    with open(file, "rb") as counting:
        total_lines = sum(1 for _ in counting)
    conn = await db_pool.connect(url, timeout=s.database.connect_timeout)
    try:
        with (
            open(file, newline="", encoding="utf-8") as handle,
            click.progressbar(length=total_lines, label="importing", file=sys.stderr) as bar,
        ):
            records = importer.rows(file, handle, fmt, mapping)
            return await importer.import_messages(conn, s, records, progress=bar.update)
    finally:
        await conn.close()


@cli.command()
@click.argument("message_id", required=False, type=int)
@click.option("--provider", help="Provider key (with --provider-message-id).")
@click.option("--provider-message-id", help="The provider's id for the message.")
@click.option("--client-ref", help="The client reference.")
@click.option("--format", "fmt", type=FORMATS, default="table")
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
    with runtime.database_url(s) as url:
        views = runtime.run_async(
            _trace(s, url, message_id, provider, provider_message_id, client_ref)
        )
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
) -> list[dict[str, Any]]:
    conn = await db_pool.connect(url, timeout=s.database.connect_timeout)
    try:
        if message_id is not None:
            view = await lookup.message_view(conn, message_id)
            return [view] if view else []
        return await lookup.find(
            conn,
            s,
            provider=provider,
            provider_message_id=provider_message_id,
            client_ref=client_ref,
        )
    finally:
        await conn.close()


_EVENT_COLUMNS = (
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


def render_trace(views: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return dumps(views, indent=2)
    rows = [
        {"message_id": v["id"], **{c: e[c] for c in _EVENT_COLUMNS}}
        for v in views
        for e in v["events"]
    ]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=["message_id", *_EVENT_COLUMNS])
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().rstrip("\n")
    blocks = []
    for v in views:
        error = v["error"] or {}
        head = [
            f"message {v['id']}  {v['provider']}/{v['channel']}  client_ref={v['client_ref']}",
            f"  status: {v['status']}{' (final)' if v['final'] else ''}"
            f"{'  CONFLICT' if v['conflict'] else ''}  at {v['status_at']}",
            f"  error: {error.get('code')} ({error.get('class')})" if error else "  error: -",
            f"  ids: {', '.join(v['provider_message_ids']) or '-'}",
            f"  value: {v['value']} {v['currency'] or ''}  cost: {v['cost']}  "
            f"provider cost: {v['provider_cost']} {v['provider_currency'] or ''}",
        ]
        blocks.append(
            "\n".join(head)
            + "\n"
            + table([{c: e[c] for c in _EVENT_COLUMNS} for e in v["events"]], _EVENT_COLUMNS)
        )
    return "\n\n".join(blocks)


def table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """A plain text table for people."""
    text_rows = [[_cell(r[c]) for c in columns] for r in rows]
    widths = [max([len(c), *(len(r[i]) for r in text_rows)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in text_rows]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


@cli.command()
@click.option("--url", default="http://127.0.0.1:8080", show_default=True, help="The dlrecon.")
@click.option("--token", help="API token (send+read; default: the configuration's first).")
@click.option("--messages", type=click.IntRange(1), default=1000, show_default=True)
@click.option("--providers", help="Provider keys, comma-separated (default: all simulated).")
@click.option("--duplicates", type=click.FloatRange(0, 1), default=0.1, show_default=True)
@click.option("--reorder", type=click.FloatRange(0, 1), default=0.2, show_default=True)
@click.option("--delay-ms", default="0..5", show_default=True, help="N or A..B per callback.")
@click.option("--drops", type=click.FloatRange(0, 1), default=0.05, show_default=True)
@click.option("--orphans", type=click.FloatRange(0, 1), default=0.1, show_default=True)
@click.option("--multipart", type=click.FloatRange(0, 1), default=0.2, show_default=True)
@click.option("--failures", type=click.FloatRange(0, 1), default=0.1, show_default=True)
@click.option("--price-deviation", type=click.FloatRange(0, 1), default=0.05, show_default=True)
@click.option("--concurrency", type=click.IntRange(1, 1024), default=32, show_default=True)
@click.option("--seed", type=int, help="Seed for reproducible faults (default: random).")
@click.option(
    "--record",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("sim.json"),
    show_default=True,
    help="Where to write what dlrecon must show.",
)
@click.option(
    "--check",
    "check_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Compare the running dlrecon with this record instead of simulating.",
)
@click.option("--timeout", type=float, default=60, show_default=True, help="--check: seconds.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_context
def simulate(ctx: Context, /, **params: Any) -> None:
    """Send realistic, signed provider traffic to a running dlrecon; --check compares."""
    from dlrecon import simulate as sim

    code = sim.command(ctx.settings, params)
    sys.exit(code)


@cli.command()
@click.option("--messages", type=click.IntRange(1), default=3000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the demo's database and files here (default: a temporary folder, removed).",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def demo(messages: int, seed: int, data_dir: Path | None, fmt: str) -> None:
    """Start dlrecon on a throwaway embedded Postgres, simulate traffic, check, trace one."""
    from dlrecon import demo as demo_module

    sys.exit(demo_module.run(messages=messages, seed=seed, data_dir=data_dir, fmt=fmt))


def main() -> None:
    cli(prog_name="dlrecon")
