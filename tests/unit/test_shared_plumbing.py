"""shared/broker.py partitioning, shared/deadletter.py reasons, shared/consuming.py and shared/appeals.py."""

import json
from datetime import timedelta

import pytest
from aiokafka.errors import KafkaTimeoutError
from pydantic import ValidationError
from pymongo import UpdateOne
from pymongo.errors import AutoReconnect, OperationFailure

from shared.appeals import HistoryEntry, StageUpdate, apply_stage_updates, as_operation, as_stored
from shared.broker import PUBLISH_CHUNK, group_by_partition, partition_for, publish_keyed
from shared.consuming import Accepted, accept
from shared.contracts.departments import DepartmentUpdate
from shared.contracts.dispatcher import Assignment
from shared.contracts.intake import AppealSubmitted
from shared.deadletter import describe, is_transient, records_of
from shared.errors import PermanentError, TransientError
from shared.store import APPEALS
from tests.unit.fakes import NOW, assigned_event, consumer_record, submission_payload


def update(appeal_id: str, comment: str = "") -> DepartmentUpdate:
    return DepartmentUpdate(appeal_id=appeal_id, department="kyivgaz", status="accepted", comment=comment)


# --- partitioning ------------------------------------------------------------------------------

# Kafka's own murmur2 test vectors (Java's Utils.murmur2, signed): a Java producer puts these keys on
# partition toPositive(hash) % n, and ours must agree, or one appeal's events would split across clients.
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize("partitions", [1, 3, 7, 12])
@pytest.mark.parametrize("key", sorted(JAVA_MURMUR2))
def test_partition_for_agrees_with_the_java_client(key, partitions):
    assert partition_for(key, partitions) == (JAVA_MURMUR2[key] & 0x7FFFFFFF) % partitions


def test_group_by_partition_keeps_one_appeal_on_one_partition_in_order():
    events = [update(str(1_000_000 + n % 12), comment=str(n)) for n in range(36)]
    position = {event.comment: index for index, event in enumerate(events)}

    groups = group_by_partition(events)

    grouped = [event for group in groups.values() for event in group]
    assert sorted(position[event.comment] for event in grouped) == list(range(36))
    assert set(groups) <= {0, 1, 2}
    for partition, group in groups.items():
        assert all(partition_for(event.kafka_key()) == partition for event in group)
        # Within a partition the events keep the order they were given in.
        order = [position[event.comment] for event in group]
        assert order == sorted(order)
    homes: dict[str, set[int]] = {}
    for partition, group in groups.items():
        for event in group:
            homes.setdefault(event.appeal_id, set()).add(partition)
    assert all(len(partitions) == 1 for partitions in homes.values())
    assert len(homes) == 12


def test_group_by_partition_is_stable():
    events = [update(str(1_000_000 + n)) for n in range(50)]

    first = group_by_partition(events)

    assert group_by_partition(events) == first
    assert group_by_partition(list(reversed(events))) == {p: list(reversed(g)) for p, g in first.items()}
    # Fifty appeals do not all land on one partition.
    assert len(first) == 3


def test_group_by_partition_with_one_partition_or_nothing():
    events = [update("1000001"), update("1000002")]

    assert group_by_partition(events, partitions=1) == {0: events}
    assert group_by_partition([]) == {}


class RecordingPublisher:
    """Stands in for a batch publisher: keeps each batch request as (partition, [(key, body), ...])."""

    def __init__(self) -> None:
        self.requests: list[tuple[int, list[tuple[bytes, dict]]]] = []

    async def publish(self, *messages, partition: int) -> None:
        self.requests.append((partition, [(message.key, message.body) for message in messages]))


async def test_publish_keyed_sends_one_keyed_request_per_partition_and_chunk():
    events = [update(str(1_000_000 + n), comment=str(n)) for n in range(PUBLISH_CHUNK * 4 + 50)]
    publisher = RecordingPublisher()

    await publish_keyed(publisher, events)

    sent = [body["comment"] for _, messages in publisher.requests for _, body in messages]
    assert sorted(sent, key=int) == [event.comment for event in events]
    for partition, messages in publisher.requests:
        assert 0 < len(messages) <= PUBLISH_CHUNK
        assert all(partition_for(key) == partition for key, _ in messages)
        assert all(key == body["appeal_id"].encode() for key, body in messages)
        # Inside one request the events keep their order.
        order = [int(body["comment"]) for _, body in messages]
        assert order == sorted(order)
    groups = group_by_partition(events)
    expected_requests = sum(-(-len(group) // PUBLISH_CHUNK) for group in groups.values())
    assert len(publisher.requests) == expected_requests
    assert expected_requests > len(groups), "some partition needed more than one chunk"


async def test_publish_keyed_of_nothing_sends_nothing():
    publisher = RecordingPublisher()

    await publish_keyed(publisher, [])

    assert publisher.requests == []


# --- dead-letter reasons -----------------------------------------------------------------------


def _validation_error(raw: bytes) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        AppealSubmitted.model_validate_json(raw)
    return caught.value


def test_describe_not_json():
    reason, detail = describe(_validation_error(b"{not json"))

    assert reason == "invalid-json"
    assert "Invalid JSON" in detail


def test_describe_an_event_that_does_not_fit_names_the_fields():
    reason, detail = describe(_validation_error(b'{"channel": "web", "text": "", "contact": {"phone": "123"}}'))

    assert reason == "invalid-event"
    assert "text:" in detail
    assert "contact.phone:" in detail
    assert "received_at: Field required" in detail


def test_describe_a_body_that_is_not_an_object():
    reason, detail = describe(_validation_error(b"[1, 2]"))

    assert reason == "invalid-event"
    assert detail.startswith("body: ")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            PermanentError("unknown-channel", "channel 'fax' is not registered"),
            ("unknown-channel", "channel 'fax' is not registered"),
        ),
        (PermanentError("unknown-appeal"), ("unknown-appeal", "unknown-appeal")),
        (KeyError("x"), ("unexpected-error", "KeyError: 'x'")),
        (RuntimeError("boom"), ("unexpected-error", "RuntimeError: boom")),
    ],
)
def test_describe_other_errors(error, expected):
    assert describe(error) == expected


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (TransientError("store down"), True),
        (AutoReconnect("primary gone"), True),
        (KafkaTimeoutError(), True),
        (OperationFailure("not primary", code=10107), True),
        (OperationFailure("bad update", code=9), False),
        (PermanentError("unknown-channel"), False),
        (ValueError("bad"), False),
    ],
)
def test_is_transient(error, transient):
    assert is_transient(error) is transient


def test_records_of_a_batch_and_of_one_record():
    one, two = consumer_record(b"1"), consumer_record(b"2")

    assert list(records_of([one, two])) == [one, two]
    assert list(records_of((one,))) == [one]
    assert list(records_of(one)) == [one]


# --- accepting a batch record by record --------------------------------------------------------


async def test_accept_parks_bad_records_and_keeps_the_good_ones_in_order(parked):
    good_1 = consumer_record(json.dumps(submission_payload(external_id="a")).encode(), offset=1)
    not_json = consumer_record(b"\xff\xfe not json", offset=2)
    empty = consumer_record(None, offset=3)
    fax = consumer_record(json.dumps(submission_payload(channel="fax")).encode(), offset=4)
    good_2 = consumer_record(json.dumps(submission_payload(external_id="b")).encode(), offset=5)

    def check(submission: AppealSubmitted) -> None:
        if submission.channel == "fax":
            raise PermanentError("unknown-channel", "fax")

    accepted = await accept([good_1, not_json, empty, fax, good_2], AppealSubmitted, parked, check)

    assert [item.record for item in accepted] == [good_1, good_2]
    assert [item.event.external_id for item in accepted] == ["a", "b"]
    assert [record for record, _ in parked.items] == [not_json, empty, fax]
    assert [describe(error)[0] for error in parked.errors] == ["invalid-json", "invalid-json", "unknown-channel"]


async def test_accept_lets_an_unexpected_error_of_the_check_through(parked):
    record = consumer_record(json.dumps(submission_payload()).encode())

    def check(submission: AppealSubmitted) -> None:
        raise RuntimeError("bug in the check")

    with pytest.raises(RuntimeError, match="bug in the check"):
        await accept([record], AppealSubmitted, parked, check)
    assert parked.items == []


# --- the stage update --------------------------------------------------------------------------


CLASSIFIED_AT = NOW - timedelta(seconds=5)


def test_stage_update_applies_once_per_event_id_of_its_last_entry():
    update = StageUpdate(
        "1000001",
        {"assignment": {"department": "kyivgaz"}},
        (
            HistoryEntry("classified", CLASSIFIED_AT, "ev-c", "classifier"),
            HistoryEntry("assigned", NOW, "ev-a", "dispatcher", "gas -> kyivgaz"),
        ),
    )

    assert update.event_id == "ev-a"
    assert as_operation(update) == UpdateOne(
        {"_id": "1000001", "history.event_id": {"$ne": "ev-a"}},
        {
            "$set": {"assignment": {"department": "kyivgaz"}, "status": "assigned", "updated_at": NOW},
            "$push": {
                "history": {
                    "$each": [
                        {"status": "classified", "at": CLASSIFIED_AT, "event_id": "ev-c", "by": "classifier"},
                        {
                            "status": "assigned",
                            "at": NOW,
                            "event_id": "ev-a",
                            "by": "dispatcher",
                            "note": "gas -> kyivgaz",
                        },
                    ]
                }
            },
        },
    )


def test_history_entry_without_a_note_has_no_note():
    assert HistoryEntry("triage", NOW, "ev-1", "dispatcher").document() == {
        "status": "triage",
        "at": NOW,
        "event_id": "ev-1",
        "by": "dispatcher",
    }


# --- applying stage updates: None when all applied, else what the store holds -------------------


class BulkResult:
    def __init__(self, matched_count: int) -> None:
        self.matched_count = matched_count


class AppealsCollection:
    """The two calls `apply_stage_updates` makes: a bulk write that matches `matched` updates, and a find."""

    def __init__(self, matched: int, documents: list[dict]) -> None:
        self.matched = matched
        self.documents = documents
        self.writes: list[tuple[list, bool]] = []
        self.finds: list[tuple[dict, dict]] = []

    async def bulk_write(self, operations: list, ordered: bool = True) -> BulkResult:
        self.writes.append((operations, ordered))
        return BulkResult(self.matched)

    def find(self, query: dict, projection: dict):
        self.finds.append((query, projection))
        wanted = set(query["_id"]["$in"])

        async def cursor():
            for document in self.documents:
                if document["_id"] in wanted:
                    yield {key: value for key, value in document.items() if key == "_id" or key in projection}

        return cursor()


class OneCollectionStore:
    def __init__(self, appeals: AppealsCollection) -> None:
        self.db = {APPEALS: appeals}


def stage_update(appeal_id: str) -> StageUpdate:
    entry = HistoryEntry("assigned", NOW, f"ev-{appeal_id}", "dispatcher")
    return StageUpdate(appeal_id, {"assignment": {"department": "kyivgaz"}}, (entry,))


async def test_apply_stage_updates_of_nothing_writes_nothing():
    appeals = AppealsCollection(matched=0, documents=[])

    assert await apply_stage_updates(OneCollectionStore(appeals), [], ["assignment"]) is None
    assert appeals.writes == []


async def test_apply_stage_updates_returns_none_when_every_update_applied():
    appeals = AppealsCollection(matched=2, documents=[{"_id": "1000001", "assignment": {}}])
    updates = [stage_update("1000001"), stage_update("1000002")]

    assert await apply_stage_updates(OneCollectionStore(appeals), updates, ["assignment"]) is None
    ((operations, ordered),) = appeals.writes
    assert operations == [as_operation(update) for update in updates]
    assert ordered is False
    # Nothing to read back.
    assert appeals.finds == []


async def test_apply_stage_updates_reads_back_every_known_appeal_when_some_did_not_apply():
    documents = [
        {"_id": "1000001", "assignment": {"department": "kyivvodokanal"}, "text": "not asked for"},
        {"_id": "1000002", "assignment": {"department": "kyivgaz"}, "text": "not asked for"},
        {"_id": "1000009", "assignment": {"department": "other"}},
    ]
    appeals = AppealsCollection(matched=1, documents=documents)
    updates = [stage_update("1000001"), stage_update("1000002"), stage_update("1000777")]

    stored = await apply_stage_updates(OneCollectionStore(appeals), updates, ["assignment"])

    assert stored == {
        "1000001": {"_id": "1000001", "assignment": {"department": "kyivvodokanal"}},
        "1000002": {"_id": "1000002", "assignment": {"department": "kyivgaz"}},
    }
    assert appeals.finds == [({"_id": {"$in": ["1000001", "1000002", "1000777"]}}, {"assignment": 1})]


async def test_apply_stage_updates_of_only_unknown_appeals_is_an_empty_dict_not_none():
    appeals = AppealsCollection(matched=0, documents=[])

    stored = await apply_stage_updates(OneCollectionStore(appeals), [stage_update("1000777")], ["assignment"])

    assert stored is not None
    assert stored == {}


STORED_ASSIGNMENT = Assignment(
    department="kyivvodokanal", department_name="Водоканал", due_at=NOW, outcome="assigned", reason="operator"
)


async def test_as_stored_publishes_what_the_store_holds_and_parks_unknown_appeals(parked):
    decisions = [assigned_event(appeal_id="1000001"), assigned_event(appeal_id="1000777")]
    records = [consumer_record(b"first", offset=1), consumer_record(b"second", offset=2)]
    accepted = [Accepted(record, decision) for record, decision in zip(records, decisions, strict=True)]
    stored = {"1000001": {"_id": "1000001", "assignment": STORED_ASSIGNMENT.model_dump(mode="python")}}

    result = await as_stored(decisions, stored, accepted, parked, "assignment", Assignment)

    assert [event.appeal_id for event in result] == ["1000001"]
    assert result[0].assignment == STORED_ASSIGNMENT
    assert result[0].event_id == decisions[0].event_id
    assert parked.values == [b"second"]
    assert isinstance(parked.errors[0], PermanentError) and parked.errors[0].reason == "unknown-appeal"


async def test_as_stored_with_nothing_stored_parks_every_event(parked):
    decisions = [assigned_event(appeal_id="1000777"), assigned_event(appeal_id="1000778")]
    accepted = [Accepted(consumer_record(str(n).encode(), offset=n), d) for n, d in enumerate(decisions)]

    assert await as_stored(decisions, {}, accepted, parked, "assignment", Assignment) == []
    assert parked.values == [b"0", b"1"]
    assert {describe(error)[0] for error in parked.errors} == {"unknown-appeal"}


async def test_accept_takes_the_same_event_once_per_batch():
    from types import SimpleNamespace

    from shared.consuming import accept
    from shared.contracts.departments import DepartmentUpdate

    body = DepartmentUpdate(appeal_id="1000001", department="lift_service", status="accepted").model_dump_json()
    other = DepartmentUpdate(appeal_id="1000001", department="lift_service", status="resolved").model_dump_json()
    records = [
        SimpleNamespace(value=value.encode(), topic="dept.updates", partition=0, offset=offset, key=None, headers=[])
        for offset, value in enumerate([body, body, other])
    ]
    parked: list = []

    async def park(record, error):
        parked.append((record, error))

    accepted = await accept(records, DepartmentUpdate, park)
    assert [item.record.offset for item in accepted] == [0, 2]
    assert parked == []
