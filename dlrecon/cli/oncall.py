"""`dlrecon stuck`, `dlrecon health` and `dlrecon inbox list|show|release`: what on-call asks,
answered as the API answers it (`--format json` prints the API's JSON)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from dlrecon.cli import database, output
from dlrecon.cli.context import Context, pass_context
from dlrecon.settings import Settings
from receiver import processor, trace
from receiver.db import inbox as inbox_store
from receiver.db.pool import connection
from receiver.exactjson import dumps
from receiver.metrics import Metrics
from receiver.views import StoredRequestView
from reconcile.durations import parse_duration
from reconcile.oncall import health as health_module
from reconcile.oncall import stuck as stuck_module
from reconcile.oncall.views import HealthAnswer, InboxList, StuckAnswer


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _instant(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


STUCK_COLUMNS = ("provider", "channel", "count", "threshold", "threshold_source", "why", "oldest")
MESSAGE_COLUMNS = ("message_id", "provider", "channel", "status", "since", "stuck_at")


@click.command()
@click.option("--older-than", callback=_duration, help="Only those open at least this (30m).")
@click.option("--provider", help="Only this provider key.")
@click.option("--channel", type=click.Choice(["sms", "whatsapp", "voice"]))
@click.option("--status", help="Only this (non-final) status.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--as-of", callback=_instant, help="What was stuck at this time (default: now).")
@click.option("--format", "fmt", type=output.FORMATS, default="table")
@pass_context
def stuck(
    ctx: Context,
    older_than: Any,
    provider: str | None,
    channel: str | None,
    status: str | None,
    limit: int,
    as_of: datetime | None,
    fmt: str,
) -> None:
    """Messages not final past their threshold, newest problems first (as GET /v1/stuck)."""
    s = ctx.settings

    async def work(url: str) -> StuckAnswer:
        async with database.pool(s, url, size=1) as pool, connection(pool) as conn:
            return await stuck_module.stuck(
                conn,
                stuck_module.thresholds(s),
                now=as_of or datetime.now(UTC),
                older_than=older_than,
                provider=provider,
                channel=channel,
                status=status,
                limit=limit,
            )

    with database.database_url(s) as url:
        answer = database.run(work(url))
    if fmt == "json":
        click.echo(dumps(answer.to_json(), indent=2))
    elif fmt == "csv":
        click.echo(output.csv_text([m.to_json() for m in answer.messages], MESSAGE_COLUMNS))
    else:
        ages = ", ".join(f"{a.label}: {a.count}" for a in answer.by_age)
        click.echo(f"{answer.total} stuck as of {answer.as_of:%Y-%m-%d %H:%M:%S} UTC ({ages})")
        if answer.groups:
            click.echo(output.table([g.to_json() for g in answer.groups], STUCK_COLUMNS))
            click.echo("")
            click.echo(output.table([m.to_json() for m in answer.messages], MESSAGE_COLUMNS))


HEALTH_COLUMNS = (
    "provider",
    "window",
    "state",
    "sent",
    "callbacks_per_sent",
    "usual",
    "failure_share",
    "verification_failures",
    "p95_to_final_seconds",
    "open_late",
    "reason",
)


def _health_rows(answer: HealthAnswer) -> list[dict[str, Any]]:
    return [
        {
            "provider": p.provider,
            "window": p.window,
            "state": p.state,
            **p.figures.to_json(),
            "usual": p.usual.callbacks_per_sent if p.usual else None,
            "reason": p.reason,
        }
        for p in answer.providers
    ]


@click.command()
@click.option("--window", help="One window (15m, 1h, 24h...); default: those configured.")
@click.option("--provider", help="Only this provider key.")
@click.option("--format", "fmt", type=output.FORMATS, default="table")
@pass_context
def health(ctx: Context, window: str | None, provider: str | None, fmt: str) -> None:
    """Per provider key: sent, callbacks per message against its usual, failures, time to
    final, and a state (ok, slow, silent, failing) with the reason (as GET /v1/providers/health)."""
    s: Settings = ctx.settings
    try:
        windows = [parse_duration(window)] if window else list(s.oncall.windows)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--window") from None

    async def work(url: str) -> HealthAnswer:
        now = datetime.now(UTC)
        async with database.pool(s, url, size=1) as pool, connection(pool) as conn:
            usual = await health_module.usual_figures(conn, now, s.oncall.health)
            if provider:
                usual = {k: v for k, v in usual.items() if k == provider}
            answer = await health_module.health(
                conn,
                now=now,
                windows=windows,
                keys=[provider] if provider else list(s.providers),
                rules=s.oncall.health,
                usual=usual,
            )
        if provider:
            kept = [p for p in answer.providers if p.provider == provider]
            answer = answer.model_copy(update={"providers": kept})
        return answer

    with database.database_url(s) as url:
        answer = database.run(work(url))
    if fmt == "json":
        click.echo(dumps(answer.to_json(), indent=2))
    else:
        click.echo(output.render(_health_rows(answer), HEALTH_COLUMNS, fmt))


@click.group()
def inbox() -> None:
    """Quarantined and held callbacks: list them, look at one, release them."""


INBOX_COLUMNS = ("id", "provider", "state", "received_at", "verification", "state_reason")


@inbox.command("list")
@click.option("--state", type=click.Choice(["quarantined", "held"]), help="Default: both.")
@click.option("--provider", help="Only this provider key.")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--format", "fmt", type=output.FORMATS, default="table")
@pass_context
def inbox_list(ctx: Context, state: str | None, provider: str | None, limit: int, fmt: str) -> None:
    """Quarantined and held callbacks, newest first (as GET /v1/inbox)."""
    s = ctx.settings
    states = [state] if state else ["quarantined", "held"]

    async def work(url: str) -> InboxList:
        from reconcile.oncall.views import InboxCount

        async with database.pool(s, url, size=1) as pool, connection(pool) as conn:
            rows = await inbox_store.attention(
                conn, states=states, provider_key=provider, after=None, limit=limit
            )
            counts = await inbox_store.attention_counts(conn)
        return InboxList(
            counts=[
                InboxCount(provider=k, state=st, count=n)
                for k, st, n in counts
                if (provider is None or k == provider) and st in states
            ],
            requests=[trace.stored_request(r) for r in rows],
            next_cursor=None,
        )

    with database.database_url(s) as url:
        answer = database.run(work(url))
    if fmt == "json":
        click.echo(dumps(answer.to_json(), indent=2))
        return
    rows = [r.to_json() for r in answer.requests]
    if fmt == "csv":
        click.echo(output.csv_text(rows, INBOX_COLUMNS))
        return
    waiting = ", ".join(f"{c.provider} {c.state}: {c.count}" for c in answer.counts) or "none"
    click.echo(f"waiting: {waiting}")
    if rows:
        click.echo(output.table(rows, INBOX_COLUMNS))


@inbox.command("show")
@click.argument("inbox_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_context
def inbox_show(ctx: Context, inbox_id: int, fmt: str) -> None:
    """One stored callback as it arrived (credentials redacted) and what became of it."""
    s = ctx.settings

    async def work(url: str) -> StoredRequestView | None:
        async with database.pool(s, url, size=1) as pool, connection(pool) as conn:
            row = await inbox_store.get(conn, inbox_id)
        return trace.stored_request(row) if row else None

    with database.database_url(s) as url:
        view = database.run(work(url))
    if view is None:
        raise click.ClickException(f"no inbox row {inbox_id}")
    if fmt == "json":
        click.echo(dumps(view.to_json(), indent=2))
        return
    query = f"?{view.query}" if view.query else ""
    lines = [
        f"inbox {view.id}  {view.provider}  {view.state}"
        f"{f' ({view.state_reason})' if view.state_reason else ''}",
        f"  {view.method} {view.path}{query}",
        f"  received {view.received_at.isoformat()} from {view.remote_addr or '-'}",
        f"  verification: {view.verification}"
        f"{f' ({view.verification_reason})' if view.verification_reason else ''}",
        *(f"  {name}: {value}" for name, value in sorted(view.headers.items())),
        f"  body ({view.body_bytes} bytes):",
        view.body if view.body is not None else f"(base64) {view.body_base64}",
    ]
    click.echo("\n".join(lines))


@inbox.command("release")
@click.argument("inbox_ids", type=int, nargs=-1, required=True)
@pass_context
def inbox_release(ctx: Context, inbox_ids: tuple[int, ...]) -> None:
    """Put these quarantined or held callbacks back in the queue and process them (a held one
    is processed although its verification failed: release only those you trust)."""
    s = ctx.settings

    async def work(url: str) -> tuple[list[int], int]:
        async with database.pool(s, url) as pool:
            async with connection(pool) as conn:
                released = await inbox_store.release_ids(conn, list(inbox_ids))
            processed = await processor.drain(pool, s, Metrics())
        return released, processed

    with database.database_url(s) as url:
        released, processed = database.run(work(url))
    missing = sorted(set(inbox_ids) - set(released))
    click.echo(f"released {len(released)} inbox rows; processed {processed}")
    if missing:
        click.echo(
            f"not released (no such row, or not quarantined nor held): "
            f"{', '.join(map(str, missing))}",
            err=True,
        )
        raise SystemExit(1)
