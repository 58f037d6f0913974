"""Every command that offers `--format json` has a test that parses its output with json.load
(the scripts that call them rely on it): a new command with such an option fails here until
one is named."""

from __future__ import annotations

from collections.abc import Iterator

import click

from dlrecon.cli import cli

# command path -> the test that runs it with --format json and parses its stdout
JSON_TESTED = {
    "trace": "tests/integration/test_cli.py::test_commands_print_their_data_and_only_problems_unless_verbose",
    "simulate": "tests/acceptance/test_simulate.py::test_simulate_with_faults_then_check_passes_and_tampering_fails",
    "demo": "tests/acceptance/test_simulate.py::test_demo_json_is_json_and_nothing_else",
    "poll": "tests/integration/poll/test_cli_poll.py::test_dry_run_once_and_trace",
    "stuck": "tests/integration/test_oncall_scenario.py::test_silent_before_stuck_then_both_stuck_with_the_learned_threshold",
    "health": "tests/integration/test_oncall_api.py::test_health_json_is_the_api_answer",
    "inbox list": "tests/integration/test_oncall_api.py::test_held_callbacks_are_listed_shown_and_released",
    "inbox show": "tests/integration/test_oncall_api.py::test_held_callbacks_are_listed_shown_and_released",
    "reconcile": "tests/acceptance/test_reconcile_serve.py::test_a_run_started_over_http_is_executed_by_serve",
    "findings list": "tests/acceptance/test_reconcile_serve.py::test_a_run_started_over_http_is_executed_by_serve",
    "report finance": "tests/integration/test_finance_formats.py::test_report_and_period_commands",
    "period list": "tests/integration/test_finance_formats.py::test_report_and_period_commands",
}


def _commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from _commands(command, f"{path} ")
        else:
            yield path, command


def _offers_json(command: click.Command) -> bool:
    for param in command.params:
        if isinstance(param, click.Option) and "--format" in param.opts:
            choices = getattr(param.type, "choices", ())
            return "json" in choices
    return False


def test_every_json_format_is_parsed_by_a_test() -> None:
    offered = {path for path, command in _commands(cli) if _offers_json(command)}
    assert offered == set(JSON_TESTED), (
        "name the test that parses each command's --format json output in JSON_TESTED"
    )


def test_the_named_tests_exist() -> None:
    from tests.support import ROOT

    for node in JSON_TESTED.values():
        path, name = node.split("::")
        assert f"def {name}(" in (ROOT / path).read_text(), node
