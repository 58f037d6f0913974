"""The `dlrecon` command line: one module per area, every command registered here."""

from __future__ import annotations

from dlrecon.cli import (
    db,
    demo,
    imports,
    inbox,
    messages,
    oncall,
    poll,
    reconcile,
    reports,
    retention,
    serve,
    simulate,
)
from dlrecon.cli.context import cli

for command in (
    serve.serve,
    db.migrate,
    db.db,
    inbox.process,
    inbox.replay,
    retention.retention_command,
    imports.group,
    messages.trace,
    reconcile.reconcile,
    reconcile.findings,
    reports.report,
    reports.period,
    poll.poll,
    simulate.simulate,
    demo.demo,
    oncall.stuck,
    oncall.health,
    oncall.inbox,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="dlrecon")
