"""`dlrecon reconcile`, `dlrecon findings ...`, `dlrecon import ratecard|invoice`."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from dlrecon.cli import database, imports, output
from dlrecon.cli.context import Context, pass_context
from dlrecon.settings import Settings
from receiver import adapters
from receiver.db.pool import connection
from receiver.errors import InvalidInput, NotFound
from receiver.exactjson import dumps
from reconcile import importing, lifecycle, report, runner
from reconcile.db import findings as finding_store
from reconcile.engine import Outcome
from reconcile.settings import ReconcileConfig
from reconcile.views import finding_view

FINDING_COLUMNS = ("id", "rule", "state", "provider", "amount", "currency", "explanation")


class Timestamp(click.ParamType[datetime]):
    """An ISO 8601 time; without an offset it is UTC."""

    name = "TIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time (e.g. 2026-06-01 or 2026-06-01T10:00Z)")
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


TIME = Timestamp()


@click.command("reconcile")
@click.option("--from", "window_from", type=TIME, required=True, help="Window start (inclusive).")
@click.option("--to", "window_to", type=TIME, required=True, help="Window end (exclusive).")
@click.option("--as-of", type=TIME, help="Cut-off: nothing received or imported later is seen.")
@click.option(
    "--format",
    "fmt",
    type=output.FORMATS,
    default="table",
    help="table: counts and amounts by rule and the ledger; json and csv: every finding too.",
)
@pass_context
def reconcile(
    ctx: Context, window_from: datetime, window_to: datetime, as_of: datetime | None, fmt: str
) -> None:
    """Run every reconciliation rule over a window now, and print what it found.

    Progress per rule goes to stderr; the exit status is 1 only when the run itself fails
    (findings are results, not errors). Findings are written a page at a time."""
    s = ctx.settings
    with database.database_url(s) as url:
        try:
            database.run(_reconcile(s, url, window_from, window_to, as_of, fmt))
        except InvalidInput as exc:
            raise click.ClickException(str(exc)) from None


def _progress(step: str, found: int | None, seconds: float) -> None:
    if found is None:
        name = step.removeprefix("prepare_").replace("_", " ")
        click.echo(f"  ({name}: {seconds:.2f} s)", err=True)
    else:
        click.echo(f"  {step:<24} {found:>8} findings  {seconds:7.2f} s", err=True)


async def _reconcile(
    s: Settings,
    url: str,
    window_from: datetime,
    window_to: datetime,
    as_of: datetime | None,
    fmt: str,
) -> None:
    config = ReconcileConfig.of(s)
    async with database.pool(s, url, size=1) as pool, connection(pool) as conn:
        outcome: Outcome = await runner.reconcile(
            conn,
            window_from=window_from,
            window_to=window_to,
            as_of=as_of,
            config=config.run_config(),
            requested_by=getpass.getuser(),
            work_mem=s.reconcile.work_mem,
            progress=_progress,
        )
        view = await report.run_view(conn, outcome.run_id)
        assert view is not None
        if fmt == "table":
            _summary_table(view.to_json())
            return
        if fmt == "csv":
            click.echo(report.csv_text([]), nl=False)
            async for page in report.all_findings(conn, outcome.run_id):
                click.echo(report.csv_text(page, header=False), nl=False)
            return
        head = dumps(view.to_json(), indent=2)
        click.echo(head[: head.rindex("}")].rstrip() + ',\n  "findings": [')
        first = True
        async for page in report.all_findings(conn, outcome.run_id):
            for finding in page:
                text = dumps(report.row(finding))
                click.echo(("    " if first else "   ,") + text)
                first = False
        click.echo("  ]\n}")


def _summary_table(view: dict[str, Any]) -> None:
    rows = [
        {
            "rule": r["rule"],
            "findings": r["findings"],
            "at stake": ", ".join(f"{a['amount']} {a['currency']}" for a in r["amounts"]) or "-",
        }
        for r in view["rules"]
    ]
    click.echo(output.table(rows, ("rule", "findings", "at stake")))
    click.echo()
    ledger = [{**row, "balanced": "yes" if row["balanced"] else "NO"} for row in view["ledger"]]
    columns = (
        "provider",
        "currency",
        "registered",
        "delivered",
        "read",
        "failed",
        "expired",
        "rejected",
        "pending",
        "invoiced_lines",
        "matched_lines",
        "unmatched_lines",
        "balanced",
    )
    click.echo(output.table(ledger, columns))
    click.echo(
        f"\nrun {view['id']}: {view['findings']} findings; the ledger "
        f"{'balances' if view['balanced'] else 'does NOT balance'}; every finding with "
        f"--format csv or json, or `dlrecon findings list`"
    )


@click.group("findings")
def findings() -> None:
    """Findings across runs, and their lifecycle (acknowledge, resolve, accept)."""


@findings.command("list")
@click.option("--rule", help="Only this rule.")
@click.option("--state", type=click.Choice(lifecycle.STATES), help="Only findings in this state.")
@click.option("--provider", help="Only this provider key.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option("--format", "fmt", type=output.FORMATS, default="table")
@pass_context
def list_findings(
    ctx: Context, rule: str | None, state: str | None, provider: str | None, limit: int, fmt: str
) -> None:
    """List findings, oldest first."""
    s = ctx.settings
    with database.database_url(s) as url:
        rows = database.run(_list(s, url, rule, state, provider, limit))
    columns = FINDING_COLUMNS if fmt == "table" else tuple(rows[0]) if rows else FINDING_COLUMNS
    click.echo(output.render(rows, columns, fmt))


async def _list(
    s: Settings, url: str, rule: str | None, state: str | None, provider: str | None, limit: int
) -> list[dict[str, Any]]:
    async with database.pool(s, url, size=1) as pool, connection(pool) as conn:
        found = await finding_store.page(
            conn, rule=rule, state=state, provider_key=provider, limit=limit
        )
    return [finding_view(f).to_json() for f in found]


def _changer(state: str, verb: str, note_required: bool = False) -> click.Command:
    @click.command(
        verb, help=f"Mark finding ID {state}" + (" (a note saying why)." if note_required else ".")
    )
    @click.argument("finding_id", type=click.IntRange(1))
    @click.option("--note", required=note_required, help="Why.")
    @click.option("--by", help="Who (default: your user name).")
    @pass_context
    def change(ctx: Context, finding_id: int, note: str | None, by: str | None) -> None:
        s = ctx.settings
        with database.database_url(s) as url:
            try:
                found = database.run(
                    _change(s, url, finding_id, state, note, by or getpass.getuser())
                )
            except (InvalidInput, NotFound) as exc:
                raise click.ClickException(str(exc)) from None
        click.echo(
            f"finding {found['id']} ({found['rule']}, {found['subject']}) is {found['state']}"
        )

    return change


async def _change(
    s: Settings, url: str, finding_id: int, state: str, note: str | None, by: str
) -> dict[str, Any]:
    async with database.pool(s, url, size=1) as pool, connection(pool) as conn:
        changed = await lifecycle.change(conn, finding_id, state=state, note=note, by=by)
    return finding_view(changed).to_json()


findings.add_command(_changer("acknowledged", "ack"))
findings.add_command(_changer("resolved", "resolve"))
findings.add_command(_changer("accepted", "accept", note_required=True))
findings.add_command(_changer("open", "reopen"))


def _summary(summary: importing.ImportSummary) -> str:
    if summary.already_imported:
        return (
            f"invoice {summary.invoice_id} was imported before ({summary.present} lines): "
            "nothing changed"
        )
    return (
        f"{summary.lines_read} lines read: {summary.imported} imported, {summary.refused} "
        f"refused, {summary.present} already present"
    )


def _refused(file: Path) -> importing.OnRefused:
    def echo(line: int, reason: str) -> None:
        click.echo(f"{file}:{line}: {reason}", err=True)

    return echo


@imports.group.command("ratecard")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def import_ratecard(ctx: Context, file: Path) -> None:
    """Import a rate card CSV (provider,channel,prefix,price_per_segment,currency,valid_from,
    valid_to); bad lines are reported with their numbers, good ones kept."""
    s = ctx.settings
    with database.database_url(s) as url:
        summary = database.run(_import_ratecard(s, url, file))
    click.echo(_summary(summary))
    if summary.refused:
        sys.exit(1)


async def _import_ratecard(s: Settings, url: str, file: Path) -> importing.ImportSummary:
    async with database.pool(s, url, size=1) as pool, connection(pool) as conn:
        with _bar(file) as bar:
            try:
                return await importing.import_rate_cards(
                    conn,
                    file,
                    provider_keys=set(s.providers),
                    on_refused=_refused(file),
                    progress=bar.update,
                )
            except InvalidInput as exc:
                raise click.ClickException(f"{file}: {exc}") from None


@imports.group.command("invoice")
@click.argument("provider")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--invoice-id", help="The invoice's id (default: the file's SHA-256).")
@pass_context
def import_invoice(ctx: Context, provider: str, file: Path, invoice_id: str | None) -> None:
    """Import a provider invoice or CDR export, laid out as [providers.PROVIDER.invoice] says;
    importing the same invoice again changes nothing."""
    s = ctx.settings
    with database.database_url(s) as url:
        summary = database.run(_import_invoice(s, url, provider, file, invoice_id))
    click.echo(_summary(summary))
    if summary.refused:
        sys.exit(1)


async def _import_invoice(
    s: Settings, url: str, provider: str, file: Path, invoice_id: str | None
) -> importing.ImportSummary:
    if provider not in s.providers:
        known = ", ".join(sorted(s.providers)) or "none"
        raise click.ClickException(f"unknown provider key {provider!r} (configured: {known})")
    adapter = adapters.get(s.adapter_name(provider))
    options = s.providers[provider].options()
    async with database.pool(s, url, size=1) as pool, connection(pool) as conn:
        with _bar(file) as bar:
            try:
                return await importing.import_invoice(
                    conn,
                    file,
                    provider_key=provider,
                    provider_keys=set(s.providers),
                    mapping=s.providers[provider].invoice,
                    canonical_id=lambda raw: adapter.canonical_id(raw, options),
                    invoice_id=invoice_id,
                    on_refused=_refused(file),
                    progress=bar.update,
                )
            except InvalidInput as exc:
                raise click.ClickException(f"{file}: {exc}") from None


def _bar(file: Path) -> Any:
    """A progress bar on stderr when it is a terminal (over the file's bytes)."""
    return click.progressbar(
        length=file.stat().st_size,
        label="importing",
        file=sys.stderr,
        hidden=not sys.stderr.isatty(),
    )
