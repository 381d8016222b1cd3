"""The rules in force, read from the rule file, and replaced when the file changes (no restart).

A changed file is validated before it replaces anything: a file with errors is refused, the log names each
bad line, the metrics say so, and the last good rules stay in force.
"""

import asyncio
import dataclasses
import hashlib
import logging
from pathlib import Path
from typing import Literal

from services.classifier.metrics import rules_file_refused, rules_reloads, ruleset_info
from services.classifier.ruleset import RulesError, RuleSet, parse_rules
from shared.language import Lexicon
from shared.taxonomy import Taxonomy

logger = logging.getLogger(__name__)

ReloadOutcome = Literal["unchanged", "reloaded", "refused"]


def read_rules(path: Path, taxonomy: Taxonomy, lexicon: Lexicon | None = None) -> RuleSet:
    """The rule file compiled; its version carries the file's fingerprint, so each decision names the exact rules."""
    return _compile(_read(path), path, taxonomy, lexicon)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise RulesError(f"{path}: cannot read the rule file: {error}") from error


def _compile(content: bytes, path: Path, taxonomy: Taxonomy, lexicon: Lexicon | None) -> RuleSet:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RulesError(f"{path}: the rule file is not UTF-8: {error}") from error
    rules = parse_rules(text, taxonomy, str(path), lexicon)
    return dataclasses.replace(rules, version=f"{rules.version}@{fingerprint(content)}")


def fingerprint(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:12]


class RuleBook:
    def __init__(self, path: Path, taxonomy: Taxonomy) -> None:
        self.path = path
        self.taxonomy = taxonomy
        self.lexicon = Lexicon()  # shared by every version of the rules: its memory of words stays warm
        content = _read(path)
        self.current = _compile(content, path, taxonomy, self.lexicon)
        self._seen = fingerprint(content)
        self._announce()

    def __call__(self) -> RuleSet:
        return self.current

    def reload(self) -> ReloadOutcome:
        try:
            content = _read(self.path)
        except RulesError as error:
            return self._refuse(str(error), key=f"unreadable:{error}")
        seen = fingerprint(content)
        if seen == self._seen:
            return "unchanged"
        self._seen = seen
        try:
            rules = _compile(content, self.path, self.taxonomy, self.lexicon)
        except RulesError as error:
            return self._refuse(str(error), key=seen)
        previous, self.current = self.current, rules
        rules_reloads.labels("reloaded").inc()
        rules_file_refused.set(0)
        if previous.version != rules.version:
            ruleset_info.remove(previous.version)
        self._announce()
        logger.info("rules reloaded: %s (was %s)", rules.version, previous.version)
        return "reloaded"

    def _refuse(self, message: str, key: str) -> ReloadOutcome:
        rules_reloads.labels("refused").inc()
        rules_file_refused.set(1)
        logger.error("rule file refused, keeping rules %s in force:\n%s", self.current.version, message)
        self._seen = key
        return "refused"

    def _announce(self) -> None:
        ruleset_info.labels(self.current.version).set(1)

    async def reload_if_changed(self) -> None:
        # Compiling takes about half a second: off the event loop, so consumers keep their heartbeats.
        await asyncio.to_thread(self.reload)
