"""The sessions the docs show (a ```text block of `$ command` lines, each followed by what it printed), as data."""

import json
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Step:
    command: str
    shown: str

    def shown_json(self) -> object | None:
        """What the docs show the command printing, when that is JSON (a body after HTTP headers included)."""
        body = self.shown.split("\n\n", 1)[-1] if self.shown.startswith("HTTP/") else self.shown
        try:
            return json.loads(body)
        except ValueError:
            return None

    def shown_status(self) -> int | None:
        match = re.match(r"HTTP/[\d.]+ (\d{3})", self.shown)
        return int(match.group(1)) if match else None


def documented_steps(page: Path, starting: str) -> list[Step]:
    """The `$ ...` steps of the first ```text block on `page` whose first command starts with `starting`."""
    for block in re.findall(r"```text\n(.*?)```", page.read_text(), flags=re.DOTALL):
        steps, command, shown = [], None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    steps.append(Step(command, "\n".join(shown).strip()))
                command, shown = line[2:], []
            else:
                shown.append(line)
        if command is not None:
            steps.append(Step(command, "\n".join(shown).strip()))
        if steps and steps[0].command.startswith(starting):
            return steps
    raise AssertionError(f"{page.name} shows no session starting with {starting!r}")


def same_shape(shown: object, got: object) -> bool:
    """The same keys at every level of objects (values may differ: ids, times, statuses as the run goes)."""
    if isinstance(shown, dict):
        return isinstance(got, dict) and shown.keys() == got.keys() and all(same_shape(shown[k], got[k]) for k in shown)
    if isinstance(shown, list):
        return isinstance(got, list) and (not shown or not got or same_shape(shown[0], got[0]))
    return True
