"""The dispatcher's read phases on the real store make one round trip per query: a batch of a few hundred appeals
is read with one `find` each, never a `find` followed by `getMore`s (the driver's first batch holds 101 documents
unless told otherwise), counted by the driver's own command monitoring."""

import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from pymongo import monitoring

from services.dispatcher.domain import load_routing
from services.dispatcher.domain.assignments import decide_assignments, route_batch
from services.dispatcher.repository import MongoAssignments, MongoReports, ensure_indexes
from services.dispatcher.settings import DEFAULT_ROUTING
from services.intake.domain import register
from shared.contracts.base import utcnow
from shared.contracts.classifier import AppealClassified, Classification
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.intake import Address, AppealSubmitted
from shared.settings import DEFAULT_TAXONOMY
from shared.store import APPEALS, Store
from shared.taxonomy import load_taxonomy
from tests.integration.helpers import scratch_store

pytestmark = pytest.mark.integration

ROUTING = load_routing(DEFAULT_ROUTING, load_taxonomy(DEFAULT_TAXONOMY))
BATCH = 300


class Commands(monitoring.CommandListener):
    """The commands the client sent, by name, while `counting`."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.counting = False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.counting:
            self.sent[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def commands() -> Commands:
    return Commands()


@pytest.fixture
async def store(servers, commands) -> AsyncIterator[Store]:
    async with scratch_store(servers.mongodb_uri, "round_trips", ensure_indexes, event_listeners=[commands]) as store:
        yield store


def classified_batch(count: int) -> tuple[list[AppealClassified], list[dict]]:
    now, events, documents = utcnow(), [], []
    for index in range(count):
        submission = AppealSubmitted(
            channel="web",
            external_id=uuid.uuid4().hex,
            text="Немає гарячої води",
            address=Address(text=f"вул. Липська, {index + 1}"),
            received_at=now,
        )
        registration = register(submission, str(2_000_000 + index), now)
        documents.append(registration.document.to_document())
        classification = Classification(category="hot_water", urgency="normal", confidence=0.9, ruleset="test")
        events.append(
            AppealClassified(**registration.event.model_dump(exclude={"event_id"}), classification=classification)
        )
    return events, documents


async def test_the_assignment_read_phase_is_one_find_per_collection(store, commands):
    events, documents = classified_batch(BATCH)
    await store.db[APPEALS].insert_many(documents)
    repo = MongoAssignments(store)
    batch = route_batch(events, ROUTING, utcnow())

    commands.counting = True
    snapshot = await repo.load(batch)
    commands.counting = False

    assert len(snapshot.appeals) == BATCH
    # The appeals and the open incidents of their places: one find each, nothing more.
    assert commands.sent == Counter({"find": 2 if batch.places else 1})

    await repo.apply(decide_assignments(batch, snapshot, ROUTING, utcnow()).writes)
    commands.counting = True
    again = await repo.load(batch)
    commands.counting = False
    assert len(again.open_incidents) == len(batch.places)
    assert commands.sent["getMore"] == 0


async def test_the_report_read_phase_reads_each_collection_in_one_find(store, commands):
    events, documents = classified_batch(BATCH)
    await store.db[APPEALS].insert_many(documents)
    assignments = MongoAssignments(store)
    batch = route_batch(events, ROUTING, utcnow())
    await assignments.apply(decide_assignments(batch, await assignments.load(batch), ROUTING, utcnow()).writes)
    updates = [
        DepartmentUpdate(appeal_id=event.appeal_id, department=routed.assignment.department, status="accepted")
        for event, routed in zip(events, batch.routed, strict=True)
    ]

    commands.counting = True
    snapshot = await MongoReports(store).load(updates)
    commands.counting = False

    assert len(snapshot.appeals) == BATCH
    assert commands.sent["getMore"] == 0
    assert commands.sent["find"] <= 3  # the appeals, their incidents, the incidents' other appeals
