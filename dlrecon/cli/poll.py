"""`dlrecon poll`: ask providers' status APIs about the messages whose fate is uncertain."""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from typing import Any

import click

from dlrecon import runtime
from dlrecon.cli import database, output
from dlrecon.cli.context import Context, pass_context
from dlrecon.settings import Settings
from receiver import processor
from receiver.metrics import Metrics
from receiver.poll import poller
from receiver.poll.summary import Summary, outcome_of

COLUMNS = (
    "provider",
    "polled",
    "requests",
    "responses",
    "changed",
    "priced",
    "unpollable",
    "failed",
)
PLAN_COLUMNS = ("provider", "kind", "message_id", "method", "url", "query", "json")


@click.command()
@click.option("--once", is_flag=True, help="Poll until nothing is due, process, summarise, exit.")
@click.option("--provider", "providers", multiple=True, help="Only this key (repeatable).")
@click.option(
    "--dry-run", is_flag=True, help="Show the requests a round would send; send and change nothing."
)
@click.option("--format", "fmt", type=output.FORMATS, default="table")
@pass_context
def poll(ctx: Context, once: bool, providers: tuple[str, ...], dry_run: bool, fmt: str) -> None:
    """Poll provider status APIs: in a loop until SIGTERM (as `serve` does with `[poller]
    enabled`), or --once with a summary (polled, changed, priced, failed by kind)."""
    s = ctx.settings
    try:
        keys = poller.polled_keys(s, providers)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if not keys:
        raise click.ClickException(
            "no provider key is configured for polling ([providers.KEY.poll])"
        )
    with database.database_url(s) as url:
        if dry_run:
            summaries = database.run(_once(s, url, keys, dry_run=True))
            planned = [p for summary in summaries.values() for p in summary.planned]
            click.echo(output.render(planned, PLAN_COLUMNS, fmt))
        elif once:
            summaries = database.run(_once(s, url, keys, dry_run=False))
            click.echo(output.render(summary_rows(summaries), COLUMNS, fmt))
        else:
            ctx.log_as_service()  # the poller's own log, as `serve`'s poller role would write it
            run = functools.partial(poller.run, only=keys, wait_for_database=False)
            database.run(runtime.until_signal(run, s, url))


async def _once(s: Settings, url: str, keys: Sequence[str], *, dry_run: bool) -> dict[str, Summary]:
    per_key = {key: Summary() for key in keys}
    progress = _Progress(per_key)
    async with database.pool(s, url, size=4) as pool:
        await poller.Poller(pool, s, Metrics(), only=keys).once(
            dry_run=dry_run, progress=progress.update
        )
        progress.done()
        if not dry_run:
            await processor.drain(pool, s, Metrics())  # the responses, into events
            for summary in per_key.values():
                await outcome_of(pool, summary)
    return per_key


def summary_rows(per_key: dict[str, Summary]) -> list[dict[str, Any]]:
    rows = []
    for key, s in per_key.items():
        failed = " ".join(f"{kind}={n}" for kind, n in sorted(s.failed.items())) or "0"
        rows.append(
            {
                "provider": key,
                "polled": s.polled,
                "requests": s.requests,
                "responses": s.responses,
                "changed": s.changed,
                "priced": s.priced,
                "unpollable": s.unpollable,
                "failed": failed,
            }
        )
    return rows


class _Progress:
    """Adds each round to its key's summary; on a terminal, shows the running totals."""

    def __init__(self, per_key: dict[str, Summary]) -> None:
        self._per_key = per_key
        self._tty = sys.stderr.isatty()

    def update(self, key: str, round_summary: Summary) -> None:
        self._per_key[key].add(round_summary)
        if self._tty:
            s = self._per_key[key]
            failed = sum(s.failed.values())
            click.echo(
                f"\r{key}: polled {s.polled}, responses {s.responses}, failed {failed}\033[K",
                err=True,
                nl=False,
            )

    def done(self) -> None:
        if self._tty:
            click.echo("", err=True)
