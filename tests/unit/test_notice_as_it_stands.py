"""shared.store.notice_as_it_stands: a notice's state is its own document once the notifier wrote to it, else its
delivery batch's outcome."""

from datetime import timedelta

from shared.store import notice_as_it_stands
from tests.unit.fakes import NOW

SETTLED_AT = NOW + timedelta(seconds=2)
BATCH = {"_id": "b1", "keys": ["1:registered", "2:registered"], "sent": ["1:registered"], "settled_at": SETTLED_AT}


def notice(key: str, **changes) -> dict:
    return {"_id": key, "state": "pending", "attempts": 0, "delivery": "b1", "created_at": NOW, **changes}


def test_a_notice_its_batch_names_sent_is_sent_at_the_batch_settlement():
    view = notice_as_it_stands(notice("1:registered"), BATCH)

    assert (view["state"], view["attempts"], view["sent_at"]) == ("sent", 1, SETTLED_AT)


def test_a_notice_its_batch_does_not_name_is_still_pending():
    assert notice_as_it_stands(notice("2:registered"), BATCH)["state"] == "pending"
    assert notice_as_it_stands(notice("1:registered"), None)["state"] == "pending"  # batch still open, or lost


def test_what_was_written_on_the_notice_itself_wins():
    # Taken over by the delivery job after its sender hung, then failed for good: the batch's late word is not taken.
    failed = notice("1:registered", state="failed", attempts=1, reason="http-400")

    assert notice_as_it_stands(failed, BATCH) is failed
