"""Exception types that decide a message's fate (see shared.deadletter), and the one way problems found by
validation are told to people (a dead letter's detail, an HTTP answer, the command line)."""

from collections.abc import Collection, Iterable, Mapping
from typing import Any


class PermanentError(Exception):
    """The message can never be processed as it is: park it in the dead-letter topic.

    `reason` is a short, bounded code used as a metric label; `detail` is for people.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class TransientError(Exception):
    """A dependency is unavailable for now: retry in place, then park with `transient-exhausted`."""


# Where pydantic says an HTTP request's value came from; the field's own name is what a client needs to read.
REQUEST_PARTS = frozenset({"body", "query", "path", "header"})


def describe_issues(
    issues: Iterable[Mapping[str, Any]], *, whole: str = "input", skip: Collection[str] = (), limit: int | None = None
) -> str:
    """Validation problems (pydantic's `errors()`) as one line: "field.sub: message; ...". `whole` names the input
    when a problem is about all of it; parts of the location in `skip` are left out; at most `limit` problems."""
    problems = []
    for issue in list(issues)[:limit]:
        location = [str(part) for part in issue.get("loc", ()) if part not in skip]
        problems.append(f"{'.'.join(location) or whole}: {issue.get('msg', '')}")
    return "; ".join(problems)
