"""`dlrecon process` and `dlrecon replay`: stored callbacks turned into events."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click

from dlrecon import runtime
from dlrecon.cli import database
from dlrecon.cli.context import Context, pass_context
from dlrecon.settings import Settings
from receiver import processor, retention
from receiver.db import inbox as inbox_store
from receiver.db.inbox import InboxRow
from receiver.db.pool import connection
from receiver.metrics import Metrics


@click.command()
@click.option("--once", is_flag=True, help="Process what is pending, then exit.")
@pass_context
def process(ctx: Context, once: bool) -> None:
    """Turn stored callbacks into events (`serve` runs this too, unless told not to)."""
    s = ctx.settings
    if not once:
        ctx.log_as_service()
    with database.database_url(s) as url:
        n = database.run(_drain(s, url) if once else _run(s, url))
    click.echo(f"processed {n} inbox rows")


async def _run(s: Settings, url: str) -> int:
    # in the foreground, a database that is not there is an error at once, not waited for
    await runtime.until_signal(functools.partial(processor.run, wait_for_database=False), s, url)
    return 0


async def _drain(s: Settings, url: str) -> int:
    async with database.pool(s, url) as pool:
        return await processor.drain(pool, s, Metrics())


@click.command()
@click.option("--quarantined", is_flag=True, help="Only rows quarantined by a parse error.")
@click.option(
    "--release-held",
    is_flag=True,
    help="Also process rows held because their verification failed (verify = quarantine).",
)
@click.option("--provider", help="Only this provider key.")
@click.option("--since", type=click.DateTime(), help="Only rows received since (UTC).")
@click.option(
    "--from-archive",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Re-run adapters over the rows archived in this folder by `dlrecon retention` "
    "(their months dropped from the database) instead of the stored ones.",
)
@pass_context
def replay(
    ctx: Context,
    quarantined: bool,
    release_held: bool,
    provider: str | None,
    since: datetime | None,
    from_archive: Path | None,
) -> None:
    """Re-run adapters over stored raw requests (duplicates are dropped by the dedupe key).

    Rows that failed verification are only ever processed with --release-held.
    """
    s = ctx.settings
    if from_archive is not None:
        if quarantined or release_held:
            raise click.UsageError(
                "--from-archive replays archived rows: --quarantined and --release-held name "
                "stored ones (archived months had none left)"
            )
        _replay_archive(s, from_archive, provider, since)
        return
    if provider is not None and provider not in s.providers:
        known = ", ".join(sorted(s.providers)) or "none configured"
        raise click.BadParameter(
            f"no provider key {provider!r} in the configuration (keys: {known})",
            param_hint="--provider",
        )
    states = ["quarantined"] if quarantined else ["processed", "quarantined"]
    if release_held:
        states.append("held")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    with database.database_url(s) as url:
        replayed = database.run(_replay(s, url, states, provider, since))
    click.echo(replayed.describe())


def _replay_archive(
    s: Settings, folder: Path, provider: str | None, since: datetime | None
) -> None:
    files = retention.archive_files(folder)
    if not files:
        raise click.ClickException(f"no archive files ({retention.ARCHIVE_GLOB}) in {folder}")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)

    def rows() -> Iterator[InboxRow]:
        for path in files:
            for row in retention.read_file(path):
                if provider is not None and row.provider_key != provider:
                    continue
                if since is not None and row.received_at < since:
                    continue
                yield row

    async def go(url: str) -> processor.ArchiveReplay:
        async with database.pool(s, url) as pool:
            return await processor.replay_archived(pool, s, Metrics(), rows())

    with database.database_url(s) as url:
        done = database.run(go(url))
    click.echo(
        f"replayed {done.rows} archived inbox rows from {len(files)} files; "
        f"{done.events} events, {done.new_events} new"
    )
    if done.events != done.new_events:
        click.echo("  events already stored are dropped by their dedupe key")
    for inbox_id, reason in done.unparsed[:20]:
        click.echo(f"  row {inbox_id} does not parse: {reason}")
    if len(done.unparsed) > 20:
        click.echo(f"  ... and {len(done.unparsed) - 20} more that do not parse")


@dataclass(frozen=True, slots=True)
class _Replayed:
    released: list[tuple[int, str]]  # (inbox id, the state it had)
    processed: int  # pending rows this command processed: released ones, and any pending before
    outcome: inbox_store.ReplayedOutcome

    def describe(self) -> str:
        """The counts, and why they differ, for people."""
        was = Counter(state for _, state in self.released)
        now = self.outcome.states
        lines = [f"released {len(self.released)} inbox rows; processed {self.processed}"]
        if self.released:
            lines.append("  released, by the state they had: " + _counts(was))
            lines.append("  released, by the state they have now: " + _counts(now))
        if self.processed != len(self.released):
            lines.append(
                "  processed counts every pending row this command took: rows that were already "
                "waiting are included, and released rows a running `dlrecon serve` took first "
                "are not"
            )
        if self.released:
            lines.append(
                f"  {self.outcome.new_events} new events; events already stored are dropped "
                "by their dedupe key, so replaying what was processed adds none"
            )
        if now.get("quarantined"):
            lines.append(
                "  quarantined rows still fail to parse: see their reasons with "
                "`dlrecon inbox list --state quarantined`"
            )
        return "\n".join(lines)


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{state} {n}" for state, n in sorted(counts.items()) if n) or "-"


async def _replay(
    s: Settings, url: str, states: list[str], provider: str | None, since: datetime | None
) -> _Replayed:
    async with database.pool(s, url) as pool:
        async with connection(pool) as conn:
            before = await inbox_store.last_event_id(conn)
            released = await inbox_store.release_rows(
                conn, states=states, provider_key=provider, since=since
            )
        processed = await processor.drain(pool, s, Metrics())
        async with connection(pool) as conn:
            outcome = await inbox_store.replayed_outcome(
                conn, [inbox_id for inbox_id, _ in released], before
            )
        return _Replayed(released, processed, outcome)
