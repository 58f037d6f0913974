"""`dlrecon retention`: raw inbox months past the retention window, archived and dropped."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from dlrecon.cli import database
from dlrecon.cli.context import Context, pass_context
from dlrecon.settings import Settings
from receiver import retention
from receiver.settings import seconds


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(seconds(value))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command(name="retention")
@click.option(
    "--older-than",
    callback=_duration,
    help="Archive and drop months whose every row is older than this (90d, 12h, seconds); "
    "default: [retention] older_than (90d).",
)
@click.option(
    "--archive",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the archives (inbox-YYYYMM.ndjson.gz); default: [retention] archive.",
)
@pass_context
def retention_command(ctx: Context, older_than: float | None, archive: Path | None) -> None:
    """Archive raw inbox months past the retention window, then drop their partitions.

    A month with a row still pending, held or quarantined is kept. Events, messages and
    findings are kept forever; `dlrecon replay --from-archive DIR` reads archives back.
    """
    s = ctx.settings
    folder = archive or s.retention.archive
    if folder is None:
        raise click.UsageError(
            "nothing is dropped without an archive: give --archive DIR or set [retention] archive"
        )
    window = timedelta(seconds=older_than if older_than is not None else s.retention.older_than)
    with database.database_url(s) as url:
        outcome = database.run(_run(s, url, window, folder))
    for name, rows, path in outcome.dropped:
        click.echo(f"archived {rows} rows of {name} to {path}, then dropped it")
    for name, why in outcome.kept:
        click.echo(f"kept {name}: {why}")
    if not outcome.dropped and not outcome.kept:
        click.echo(f"nothing older than {window} to archive")


async def _run(s: Settings, url: str, window: timedelta, folder: Path) -> retention.Outcome:
    async with database.pool(s, url) as pool:
        return await retention.run(pool, older_than=window, folder=folder)
