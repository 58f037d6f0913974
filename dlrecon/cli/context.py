"""The `dlrecon` group and what every command shares: the configuration, loaded once."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dlrecon import settings as settings_module
from dlrecon.settings import Settings
from receiver import logs


class Context:
    """The configuration file given, and the settings read from it on first use."""

    def __init__(self, config: Path | None, verbose: bool) -> None:
        self.config = config
        self.verbose = verbose
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = settings_module.load(self.config)
            except settings_module.ConfigError as exc:
                click.echo(f"error: {exc}", err=True)
                sys.exit(2)
        return self._settings

    def log_as_service(self) -> None:
        """Log as the configuration says (`[log]`; `debug` with --verbose): for commands that
        run the service (`serve`, `process`), whose logs are the service's, in every process."""
        s = self.settings
        if self.verbose:
            self._settings = s = s.model_copy(
                update={"log": s.log.model_copy(update={"level": "debug"})}
            )
        logs.configure(s.log.level, s.log.format)


pass_context = click.make_pass_decorator(Context)


@click.group()
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    envvar="DLRECON_CONFIG",
    help="TOML configuration file (default: $DLRECON_CONFIG).",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show routine log lines too (on stderr), not only problems.",
)
@click.version_option(package_name="dlrecon")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, verbose: bool) -> None:
    """dlrecon: delivery reports in, reconciled truth out."""
    # a command's output is its data on stdout; its log lines go to stderr, for people, and
    # only warnings and errors unless --verbose (`serve` and `process` log as configured)
    logs.configure("debug" if verbose else "warning", "console")
    ctx.obj = Context(config, verbose)
