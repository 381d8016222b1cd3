"""Every `cityline` command the README and docs/ show in a code block is one the command line accepts: the command
exists and takes those options with those values (parsed, not run). A renamed option or a removed command fails here
with the page and line."""

import re
import shlex
from pathlib import Path

import pytest

from cityline.cli import parser

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND = re.compile(r"^(?:\$ )?(?:\.venv/bin/)?cityline (?P<args>.*)$")
# What a page writes for "fill in your own", which no parser could take as it stands.
PLACEHOLDERS = ("…", "...", "<", "[", "$(", "|")


def shown_commands() -> list[tuple[str, list[str]]]:
    found = []
    for page in PAGES:
        in_block = False
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
            if line.startswith("```"):
                in_block = not in_block
                continue
            match = COMMAND.match(line.strip()) if in_block else None
            if match is None:
                continue
            arguments = match.group("args").split("  #", 1)[0].split(" # ", 1)[0]
            # A shell redirection is the shell's, not the command's.
            arguments = re.split(r"\s[12]?>", arguments, maxsplit=1)[0].strip()
            if any(placeholder in arguments for placeholder in PLACEHOLDERS):
                continue
            found.append((f"{page.relative_to(ROOT)}:{number}", shlex.split(arguments)))
    return found


COMMANDS = shown_commands()


def test_the_pages_show_commands_to_check():
    # The pages show dozens; a parser change that silently matched none would check nothing.
    assert len(COMMANDS) >= 25
    assert {arguments[0] for _, arguments in COMMANDS} >= {"submit", "status", "classify", "kb", "report", "department"}


@pytest.mark.parametrize(("where", "arguments"), COMMANDS, ids=[where for where, _ in COMMANDS])
def test_a_shown_command_is_accepted_as_shown(where, arguments, capsys):
    try:
        parsed = parser().parse_args(arguments)
    except SystemExit as refused:
        pytest.fail(f"{where}: `cityline {shlex.join(arguments)}` is refused: {capsys.readouterr().err.strip()}")
        raise AssertionError from refused
    assert callable(parsed.func), where
