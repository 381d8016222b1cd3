"""Execution control, the pure decisions: the resident's verdict (close, reopen, dispute), the department's extension
and pause, and the appeals closed for want of an answer; written onto a fake store as the repository writes them."""

from datetime import timedelta

import pytest

from services.dispatcher.documents import AppealDoc
from services.dispatcher.domain import Refusal, route
from services.dispatcher.domain.config import token_hash
from services.dispatcher.domain.replies import decide_replies, unanswered_closures
from services.dispatcher.domain.reports import ReportSnapshot, decide_reports
from services.dispatcher.repository import status_updates
from shared.contracts.base import derived_event_id
from shared.contracts.residents import ResidentReplied
from tests.unit.fakes import NOW, FakeDispatcherRepository, apply_stage_update, classified_event, department_update

DAY = timedelta(days=1)


class Appeal:
    """One heating appeal on a fake store, with the decisions applied as the dispatcher's repository writes them."""

    def __init__(self, routing, category: str = "heating") -> None:
        self.routing = routing
        self.store = FakeDispatcherRepository()
        self.assigned = route(classified_event(category, "high"), routing, NOW).assigned
        self.store.seed_assigned(self.assigned)
        self.numbers = 0

    @property
    def doc(self) -> AppealDoc:
        return self.store.find(["1000001"])["1000001"]

    def report(self, status: str, at=NOW, **fields):
        self.numbers += 1
        update = department_update(status, number=self.numbers).model_copy(update=fields)
        decision = decide_reports([update], ReportSnapshot({"1000001": self.doc}, {}), self.routing, at)
        self._write(decision.writes)
        return decision

    def reply(self, reply: str, text: str = "", at=NOW):
        self.numbers += 1
        event = ResidentReplied(
            event_id=derived_event_id("reply", f"test-{self.numbers}"),
            appeal_id="1000001",
            reply=reply,
            text=text,
            via="link",
        )
        decision = decide_replies([event], {"1000001": self.doc}, self.routing, at)
        self._write(decision.writes)
        return decision

    def _write(self, writes) -> None:
        for update in status_updates(writes.changes, writes.due_before):
            apply_stage_update(self.store.documents, update)


def test_resolved_asks_the_resident_with_a_single_use_token_whose_hash_alone_is_stored(routing):
    appeal = Appeal(routing)
    decision = appeal.report("resolved", comment="Батареї гарячі")
    (status,) = decision.events.statuses
    assert status.status == "resolved" and status.reply_token and status.reply_until == NOW + 14 * DAY
    stored = appeal.doc.awaiting_reply
    assert stored.purpose == "verdict" and stored.token_hash == token_hash(status.reply_token)
    assert status.reply_token not in str(appeal.store.documents["1000001"])


def test_not_fixed_reopens_to_the_same_department_with_a_new_due_time_and_the_words(routing):
    appeal = Appeal(routing)
    appeal.report("resolved")
    later = NOW + 2 * DAY
    decision = appeal.reply("not_fixed", "Батареї досі холодні", at=later)
    assert appeal.doc.status == "reopened" and appeal.doc.assignment.due_at == later + routing.due_after("high")
    (task,) = decision.events.tasks
    assert (task.department, task.reopened, task.resident_comment) == ("kyivteploenergo", 1, "Батареї досі холодні")
    assert task.due_at == appeal.doc.assignment.due_at
    (told,) = decision.events.statuses
    assert told.status == "reopened" and told.due_at == task.due_at and told.round == 1
    assert [e.status for e in appeal.doc.history][-2:] == ["resolved", "reopened"]
    # The department may take it on again.
    appeal.report("accepted")
    assert appeal.doc.status == "accepted"


def test_a_second_not_fixed_goes_to_the_supervisor_and_fixed_closes(routing):
    appeal = Appeal(routing)
    appeal.report("resolved")
    appeal.reply("not_fixed", "ні")
    appeal.report("resolved")
    decision = appeal.reply("not_fixed", "знову ні")
    (escalated,) = decision.events.escalated
    assert (escalated.reason, escalated.resident_comment, appeal.doc.status) == ("disputed", "знову ні", "disputed")
    assert not decision.events.tasks

    other = Appeal(routing)
    other.report("resolved")
    decision = other.reply("fixed")
    assert other.doc.status == "closed" and not decision.events.tasks and not decision.events.statuses
    # Closed for good: a department's report on it is refused.
    assert isinstance(other.report("in_progress").refusals[0].refusal, Refusal)


def test_a_verdict_is_refused_unless_the_appeal_awaits_one_and_in_time(routing):
    appeal = Appeal(routing)
    (refused,) = appeal.reply("fixed").refusals
    assert refused.refusal.reason == "not-awaiting-reply"
    appeal.report("resolved")
    (refused,) = appeal.reply("not_fixed", at=NOW + 15 * DAY).refusals
    assert refused.refusal.reason == "reply-expired"
    assert appeal.doc.status == "resolved"


def test_no_verdict_within_the_window_closes_it_once(routing):
    appeal = Appeal(routing)
    appeal.report("resolved")
    assert unanswered_closures([appeal.doc], NOW + 13 * DAY) == []
    (closure,) = unanswered_closures([appeal.doc], NOW + 15 * DAY)
    assert (closure.status, closure.by) == ("closed", "dispatcher")
    assert unanswered_closures([appeal.doc], NOW + 16 * DAY)[0].event_id == closure.event_id


def test_an_information_request_resolves_without_asking_for_a_verdict(routing):
    appeal = Appeal(routing, category="information_request")
    # Its resolution is the answer itself: nothing to check on the ground.
    decision = appeal.report("resolved", department=appeal.assigned.assignment.department, comment="З 8:00")
    assert not decision.refusals and appeal.doc.awaiting_reply is None
    assert decision.events.statuses[0].reply_token == ""


@pytest.mark.parametrize(
    ("days", "granted"),
    [(10, True), (44.9, True), (45.1, False)],
)
def test_an_extension_is_granted_up_to_45_days_from_registration(routing, days, granted):
    appeal = Appeal(routing)
    registered = appeal.doc.registered_at
    decision = appeal.report("extension_requested", comment="Чекаємо на запчастини", extend_to=registered + days * DAY)
    if granted:
        assert not decision.refusals
        assert appeal.doc.assignment.due_at == registered + days * DAY
        assert appeal.doc.status == "assigned" and appeal.doc.history[-1].status == "extended"
        assert decision.events.statuses[0].due_at == registered + days * DAY
    else:
        (refused,) = decision.refusals
        assert refused.refusal.reason == "extension-beyond-legal-maximum" and "45 days" in refused.refusal.detail
        assert appeal.doc.assignment.due_at == appeal.assigned.assignment.due_at


def test_an_extension_needs_a_reason_a_later_date_and_the_department_holding_it(routing):
    appeal = Appeal(routing)
    later = appeal.doc.registered_at + 20 * DAY
    assert appeal.report("extension_requested", extend_to=later).refusals[0].refusal.reason == (
        "extension-without-reason"
    )
    earlier = appeal.doc.assignment.due_at - DAY
    assert appeal.report("extension_requested", comment="так", extend_to=earlier).refusals[0].refusal.reason == (
        "extension-not-later"
    )
    (refused,) = appeal.report("extension_requested", comment="так", extend_to=later, department="kyivgaz").refusals
    assert refused.refusal.reason == "rejected-transition"


def test_a_pause_stops_the_clock_and_the_answer_moves_the_due_time_by_the_wait(routing):
    appeal = Appeal(routing)
    due = appeal.doc.assignment.due_at
    decision = appeal.report("waiting_for_resident", comment="Який номер квартири?")
    (asked,) = decision.events.statuses
    assert asked.status == "waiting_for_resident" and asked.comment == "Який номер квартири?" and asked.reply_token
    assert appeal.doc.status == "waiting_for_resident"
    decision = appeal.reply("answer", "Квартира 12", at=NOW + 3 * DAY)
    assert appeal.doc.status == "assigned" and appeal.doc.assignment.due_at == due + 3 * DAY
    (task,) = decision.events.tasks
    assert task.resident_comment == "Квартира 12" and task.due_at == due + 3 * DAY


def test_a_department_report_after_a_pause_also_restarts_the_clock(routing):
    appeal = Appeal(routing)
    due = appeal.doc.assignment.due_at
    appeal.report("waiting_for_resident", comment="Коли вдома?")
    appeal.report("in_progress", at=NOW + 2 * DAY)
    assert appeal.doc.status == "in_progress" and appeal.doc.assignment.due_at == due + 2 * DAY
    # The resolution's history entry records the due time in force, by which it is judged on time.
    appeal.report("resolved", at=NOW + 3 * DAY)
    assert appeal.doc.history[-1].due_at == due + 2 * DAY
