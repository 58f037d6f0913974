"""`dlrecon migrate`, `dlrecon db url|stop`: the database in use."""

from __future__ import annotations

import click

from dlrecon.cli import database
from dlrecon.cli.context import Context, pass_context


@click.command()
@pass_context
def migrate(ctx: Context) -> None:
    """Apply pending database migrations."""
    s = ctx.settings
    with database.database_url(s) as url:
        applied = database.run(database.migrate(s, url))
    click.echo("\n".join(f"applied {n}" for n in applied) or "nothing to apply")


@click.group()
def db() -> None:
    """The database in use."""


@db.command("url")
@pass_context
def db_url(ctx: Context) -> None:
    """Print the database URL in use (starts the embedded Postgres if needed)."""
    with database.database_url(ctx.settings, keep_running=True) as url:
        click.echo(url)


@db.command("stop")
@pass_context
def db_stop(ctx: Context) -> None:
    """Stop the embedded Postgres (when no DATABASE_URL is configured)."""
    if ctx.settings.database.url is not None:
        raise click.ClickException("a DATABASE_URL is configured: nothing embedded to stop")
    embedded = database.embedded_for(ctx.settings)
    if (owner := embedded.owner()) is not None:
        raise click.ClickException(f"in use by dlrecon process {owner}: stop that one instead")
    embedded.owned = True
    embedded.stop()
    click.echo("stopped")
