"""`dlrecon simulate` and `dlrecon demo`: signed provider traffic against a running dlrecon,
and the whole tour on a throwaway database."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp
import click

from dlrecon.cli.context import Context, pass_context
from dlrecon.settings import Settings
from dlrecon.sim import check as sim_check
from dlrecon.sim import run as sim
from dlrecon.sim.scenario import Rates, parse_delay


@click.command()
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
    sys.exit(_simulate(ctx.settings, params))


def _simulate(settings: Settings, params: dict[str, Any]) -> int:
    """The `dlrecon simulate` command: simulate and record, or `--check` a record."""
    token = params["token"] or sim.default_token(settings)
    if token is None:
        raise click.UsageError("no --token, and the configuration has no token with send+read")
    url = str(params["url"]).rstrip("/")
    fmt = params["fmt"]
    if params["check_file"] is not None:
        record = json.loads(params["check_file"].read_text())
        report = check_with_progress(url, token, record, params["timeout"])
        out = sim_check.as_json(record, report) if fmt == "json" else None
        click.echo(json.dumps(out, indent=2) if out else sim_check.render(record, report))
        return 0 if report.ok else 1
    try:
        rates = Rates(
            duplicates=params["duplicates"],
            reorder=params["reorder"],
            drops=params["drops"],
            orphans=params["orphans"],
            multipart=params["multipart"],
            failures=params["failures"],
            price_deviation=params["price_deviation"],
            delay_ms=parse_delay(params["delay_ms"]),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--delay-ms") from None
    providers = [p.strip() for p in params["providers"].split(",")] if params["providers"] else None
    options = sim.Options(
        url, token, params["messages"], providers, rates, params["concurrency"], params["seed"]
    )
    record = simulate_with_progress(settings, options)
    params["record"].write_text(json.dumps(record, indent=1) + "\n")
    for line in record["skipped"]:
        click.echo(line, err=True)
    summary = {k: v for k, v in record.items() if k != "messages"}
    if fmt == "json":
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(sim.describe(record, params["record"]))
    refused = sum(v for k, v in record["callbacks"].items() if k.startswith("refused"))
    if refused:
        click.echo(f"error: {refused} callbacks were refused by dlrecon", err=True)
    return 1 if refused else 0


def simulate_with_progress(settings: Settings, options: sim.Options) -> dict[str, Any]:
    """Run the simulation with a progress bar on stderr."""
    total = options.messages + _estimate(options)
    with click.progressbar(length=total, label="simulating", file=sys.stderr) as bar:
        try:
            return asyncio.run(sim.run(settings, options, bar.update))
        except sim.SimulationError as exc:
            raise click.ClickException(str(exc)) from None
        except aiohttp.ClientError as exc:
            raise click.ClickException(f"cannot reach {options.url}: {exc}") from None


def _estimate(options: sim.Options) -> int:
    """Roughly how many callbacks the run sends (the bar's length)."""
    r = options.rates
    return int(options.messages * 2.3 * (1 + r.multipart) * (1 - r.drops) * (1 + r.duplicates))


def check_with_progress(
    url: str, token: str, record: dict[str, Any], timeout: float, concurrency: int = 16
) -> sim_check.Report:
    """Check a record against the service with a progress bar on stderr."""
    with click.progressbar(
        length=len(record["messages"]), label="checking", file=sys.stderr
    ) as bar:
        try:
            return asyncio.run(
                sim_check.check(
                    url,
                    token,
                    record,
                    timeout=timeout,
                    concurrency=concurrency,
                    progress=bar.update,
                )
            )
        except (aiohttp.ClientError, PermissionError) as exc:
            raise click.ClickException(f"check against {url} failed: {exc}") from None
