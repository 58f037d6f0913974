"""`dlrecon serve`: the HTTP workers and the role processes of every wing."""

from __future__ import annotations

import click

from dlrecon import runtime
from dlrecon.cli import database
from dlrecon.cli.context import Context, pass_context


@click.command()
@click.option("--host", help="Address to listen on (default from [server]).")
@click.option("--port", type=int, help="Port (default from [server]).")
@click.option("--workers", type=click.IntRange(1, 64), help="Server processes (SO_REUSEPORT).")
@click.option("--no-migrate", is_flag=True, help="Do not apply pending migrations at start.")
@pass_context
def serve(
    ctx: Context, host: str | None, port: int | None, workers: int | None, no_migrate: bool
) -> None:
    """Run the HTTP service (callbacks, API) and its role processes (processor...)."""
    s = ctx.settings
    ctx.log_as_service()
    host = host or s.server.host
    port = port if port is not None else s.server.port
    if (problem := runtime.port_in_use(host, port)) is not None:
        raise click.ClickException(f"{problem}: stop it, or choose another --port")
    with database.database_url(s) as url:
        if no_migrate:
            database.run(database.check_connection(s, url))
        else:
            database.run(database.migrate(s, url))  # each one applied is logged
        runtime.serve(s, url, host, port, workers or s.server.workers)
