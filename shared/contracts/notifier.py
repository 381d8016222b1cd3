"""Events of the notifier."""

from typing import Literal

from shared.contracts.base import AppealEvent


class NotificationFailed(AppealEvent):
    """Published to `notifications.dlq` when a notice could not be delivered: the gateway refused it for good
    (a bad number or address, a 4xx) or it was still failing after the last retry. The notice stays in the store
    as `failed` with the same reason; an operator sees both."""

    notification_id: str
    kind: str
    transport: Literal["sms", "email", "webhook"]
    reason: str
    detail: str = ""
    attempts: int
