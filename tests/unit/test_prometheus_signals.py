"""The signals the Prometheus rules read, as the services record them."""

from datetime import timedelta
from types import SimpleNamespace

from shared.consumer_progress import note_records
from shared.contracts.base import utcnow
from shared.metrics import STAGE_BUCKETS, STAGES, appeal_stage_seconds, observe_stage, registry

LAST_RECORD = "cityline_consumer_last_record_timestamp_seconds"


def sample(name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_the_newest_records_timestamp_is_kept_per_topic_and_partition():
    records = [
        SimpleNamespace(topic="appeals.registered", partition=0, timestamp=1_700_000_000_000),
        SimpleNamespace(topic="appeals.registered", partition=0, timestamp=1_700_000_005_500),
        SimpleNamespace(topic="appeals.registered", partition=2, timestamp=1_700_000_001_000),
    ]
    note_records("test-progress", tuple(records))
    labels = {"service": "test-progress", "topic": "appeals.registered"}
    assert sample(LAST_RECORD, **labels, partition="0") == 1_700_000_005.5
    assert sample(LAST_RECORD, **labels, partition="2") == 1_700_000_001.0
    assert sample(LAST_RECORD, **labels, partition="1") is None


def test_a_stage_is_timed_from_received_at_to_the_events_own_time_or_the_stages_clock():
    received = utcnow()
    slow = SimpleNamespace(received_at=received, occurred_at=received + timedelta(seconds=3))
    fast = SimpleNamespace(received_at=received, occurred_at=received + timedelta(milliseconds=200))
    before = {le: sample("cityline_appeal_stage_seconds_bucket", stage="assigned", le=le) for le in ("1.0", "+Inf")}
    observe_stage("assigned", [slow, fast])
    assert sample("cityline_appeal_stage_seconds_bucket", stage="assigned", le="1.0") == before["1.0"] + 1
    assert sample("cityline_appeal_stage_seconds_bucket", stage="assigned", le="+Inf") == before["+Inf"] + 2
    count = sample("cityline_appeal_stage_seconds_count", stage="notified")
    observe_stage("notified", [slow], at=received + timedelta(milliseconds=100))
    assert sample("cityline_appeal_stage_seconds_count", stage="notified") == count + 1
    # A clock behind the channel's counts as no time rather than a negative one.
    zero = sample("cityline_appeal_stage_seconds_bucket", stage="registered", le="0.05")
    observe_stage("registered", [SimpleNamespace(received_at=received, occurred_at=received - timedelta(seconds=1))])
    assert sample("cityline_appeal_stage_seconds_bucket", stage="registered", le="0.05") == zero + 1


def test_every_stage_is_exported_before_any_appeal_and_the_slo_bucket_exists():
    assert 1.0 in STAGE_BUCKETS
    exported = {s.labels["stage"] for m in appeal_stage_seconds.collect() for s in m.samples}
    assert exported == set(STAGES)
