"""Events of the resident's replies, published by intake to `appeals.replies`: whether a resolved appeal is really
fixed (the verdict), or the answer to a department's question while it waits for the resident."""

from typing import Literal

from pydantic import Field

from shared.contracts.base import AppealEvent

# `fixed` / `not_fixed`: the verdict on a resolved appeal; `answer`: the reply to a department's question.
Reply = Literal["fixed", "not_fixed", "answer"]


class ResidentReplied(AppealEvent):
    """The resident answered what the notice asked, by the notice's link (its token) or by SMS reply. Intake has
    checked the token (or the phone number) and used it up, so one reply per question arrives; its `event_id` is
    derived from the question, so a repeated publish is the same reply."""

    reply: Reply
    # The resident's own words: why it is not fixed, or the answer itself.
    text: str = Field(default="", max_length=2000)
    via: Literal["link", "sms", "console"]
    # With `console`: the staff member who took the reply on the phone.
    recorded_by: str = Field(default="", max_length=200)
