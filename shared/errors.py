"""Exception types that decide a message's fate (see shared.deadletter)."""


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
