"""cityline/cli.py only registers the commands; each lives in its own module with its `add_parser`."""

import pytest

from cityline.cli import main, parser

COMMANDS = (
    "up",
    "submit",
    "status",
    "bench",
    "replay",
    "dlq",
    "asyncapi",
    "channels",
    "classify",
    "notify",
    "topics",
    "users",
)


def test_every_command_is_registered():
    subcommands = next(action for action in parser()._actions if action.dest == "command")
    assert set(COMMANDS) <= set(subcommands.choices)


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_its_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    assert f"cityline {command}" in capsys.readouterr().out


def test_a_submission_the_contract_refuses_is_a_user_error_naming_the_field(capsys):
    assert main(["submit", "x" * 5001, "--channel", "web"]) == 2
    assert "text:" in capsys.readouterr().err
