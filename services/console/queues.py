"""The console's queues in memory: which appeals wait in triage (oldest first) and which are open at each department
(the soonest due first), with their counts. Pure: no I/O, no clock.

A page takes the numbers of its rows from here and reads only those appeals from the store, so it costs its page
size on any store, however many appeals wait. The book is filled from a projected scan of the open appeals
(`placement_of_document`) and kept current by the dispatcher's events (`moves_of_assigned`, `moves_of_statuses`).

Every move carries its version: the time of the appeal's last change as the dispatcher recorded it (the event's
`occurred_at`, which is also the `updated_at` it wrote on the appeal). A move older than what the book holds is
ignored, so events from two topics and a scan of the store may arrive in any order and the book ends where the
newest says.
"""

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from heapq import merge
from itertools import islice, takewhile
from typing import Any

from shared.contracts.dispatcher import AppealAssigned, AppealStatusChanged

# The queue of appeals waiting for an operator; every other queue is named by its department's code (never with ':').
TRIAGE = ":triage"
# The statuses of an appeal open at a department; a department's queue holds these.
ACTIVE = ("assigned", "accepted", "in_progress", "reopened")
OPEN = ("triage", *ACTIVE)
# A department's report that takes the appeal out of every queue.
CLOSING = ("resolved", "rejected", "disputed", "closed")
# A report that puts the appeal (back) at its department with a new due time.
DUE_MOVING = ("reopened", "extended", "resumed")
# A date before every other, for an appeal without a due time (the store sorts a missing value first too).
EARLIEST = datetime.min


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one open appeal waits and what orders it there."""

    queue: str
    department: str
    received_at: datetime
    due_at: datetime | None

    @property
    def order(self) -> datetime:
        """Triage serves the oldest appeal first; a department the soonest due."""
        if self.queue == TRIAGE:
            return self.received_at
        return _naive(self.due_at) if self.due_at is not None else EARLIEST


@dataclass(frozen=True, slots=True)
class Move:
    """An appeal's new place (None: in no queue any more), as of `version`."""

    appeal_id: str
    version: datetime
    placement: Placement | None


def _naive(moment: datetime) -> datetime:
    """Events carry aware datetimes, and a store may hand back naive UTC ones: every moment is kept as naive UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def placement_of_document(document: Mapping[str, Any]) -> Placement | None:
    """An appeal's place from its stored document (status, received_at, assignment); None when it is in no queue."""
    status = document.get("status")
    assignment = document.get("assignment") or {}
    department = assignment.get("department") or ""
    if status == "triage":
        queue = TRIAGE
    elif status in ACTIVE and department:
        queue = department
    else:
        return None
    due_at = assignment.get("due_at")
    return Placement(queue, department, _naive(document["received_at"]), _naive(due_at) if due_at else None)


def version_of_document(document: Mapping[str, Any]) -> datetime:
    return _naive(document.get("updated_at") or document["received_at"])


def moves_of_documents(documents: Iterable[Mapping[str, Any]]) -> list[Move]:
    return [
        Move(document["_id"], version_of_document(document), placement_of_document(document)) for document in documents
    ]


def moves_of_assigned(events: Sequence[AppealAssigned]) -> list[Move]:
    """An assignment puts the appeal in its department's queue, or in triage when a person must decide."""
    moves = []
    for event in events:
        assignment = event.assignment
        queue = TRIAGE if assignment.outcome == "triage" else assignment.department
        placement = Placement(queue, assignment.department, _naive(event.received_at), _naive(assignment.due_at))
        moves.append(Move(event.appeal_id, _naive(event.occurred_at), placement))
    return moves


def moves_of_statuses(events: Sequence[AppealStatusChanged]) -> list[Move]:
    """A resolved, rejected, disputed or closed appeal leaves its queue; a reopened one comes back to its department's
    with its new due time, and an extension moves it there. Accepted and in progress keep it where it is; a rerouted
    one arrives again on appeals.assigned with its new department, which is the move that counts."""
    moves = []
    for event in events:
        if event.status in CLOSING:
            moves.append(Move(event.appeal_id, _naive(event.occurred_at), None))
        elif event.status in DUE_MOVING and event.due_at is not None:
            # Department queues are ordered by due time; received_at orders triage only.
            placement = Placement(event.department, event.department, _naive(event.occurred_at), _naive(event.due_at))
            moves.append(Move(event.appeal_id, _naive(event.occurred_at), placement))
    return moves


class QueueBook:
    """Every open appeal's place, each queue kept sorted, and the version of what the book knows of each appeal."""

    def __init__(self) -> None:
        self._placed: dict[str, Placement] = {}
        # The version of the last move applied per appeal, closed ones included, so a late older move is ignored.
        self._versions: dict[str, datetime] = {}
        self._queues: dict[str, list[tuple[datetime, str]]] = {}
        self.built = False

    # ---- changes ----

    def apply(self, moves: Iterable[Move]) -> int:
        """Apply the moves not older than what the book holds; how many changed a queue."""
        changed = 0
        for move in moves:
            known = self._versions.get(move.appeal_id)
            if known is not None and move.version < known:
                continue
            self._versions[move.appeal_id] = move.version
            before = self._placed.get(move.appeal_id)
            if before == move.placement:
                continue
            if before is not None:
                self._take_out(move.appeal_id, before)
            if move.placement is not None:
                self._placed[move.appeal_id] = move.placement
                insort(self._queues.setdefault(move.placement.queue, []), (move.placement.order, move.appeal_id))
            changed += 1
        return changed

    def leave(self, appeal_id: str, queue: str) -> bool:
        """The console's own action took the appeal out of `queue` (an operator's decision, a department's closing
        report): it leaves at once. Its version stays, so the event that confirms the change still applies, and an
        event that came first (the appeal is elsewhere already) is not undone."""
        placement = self._placed.get(appeal_id)
        if placement is None or placement.queue != queue:
            return False
        self._take_out(appeal_id, placement)
        return True

    def reconcile(self, moves: Sequence[Move], scan_started: datetime) -> int:
        """The store's open appeals, scanned from `scan_started` on: apply them, and take out every appeal the scan
        did not find unless the book heard of it after the scan began. Forgets the versions of appeals that left
        before the scan (the store's word on them is newer). Returns how many places changed."""
        changed = self.apply(moves)
        found = {move.appeal_id for move in moves}
        since = _naive(scan_started)
        gone = [
            Move(appeal_id, self._versions[appeal_id], None)
            for appeal_id in self._placed
            if appeal_id not in found and self._versions[appeal_id] < since
        ]
        changed += self.apply(gone)
        self._versions = {
            appeal_id: version
            for appeal_id, version in self._versions.items()
            if appeal_id in self._placed or version >= since
        }
        self.built = True
        return changed

    def _take_out(self, appeal_id: str, placement: Placement) -> None:
        queue = self._queues[placement.queue]
        del queue[bisect_left(queue, (placement.order, appeal_id))]
        del self._placed[appeal_id]

    # ---- reads ----

    def page(self, queue: str, limit: int) -> list[str]:
        """The first `limit` appeals of the queue, in its order."""
        return [appeal_id for _, appeal_id in self._queues.get(queue, [])[:limit]]

    def count(self, queue: str) -> int:
        return len(self._queues.get(queue, ()))

    def placement(self, appeal_id: str) -> Placement | None:
        return self._placed.get(appeal_id)

    def open_by_department(self, now: datetime) -> dict[str, tuple[int, int]]:
        """(open, overdue) per department of every open appeal, triage's under its department (the contact center's)."""
        cut = _naive(now)
        counts: dict[str, tuple[int, int]] = {}
        for queue, entries in self._queues.items():
            if queue == TRIAGE or not entries:
                continue
            counts[queue] = (len(entries), bisect_left(entries, (cut, "")))
        for appeal_id in self._queue_ids(TRIAGE):
            placement = self._placed[appeal_id]
            late = placement.due_at is not None and placement.due_at < cut
            opened, overdue = counts.get(placement.department, (0, 0))
            counts[placement.department] = (opened + 1, overdue + late)
        return counts

    def overdue(self, now: datetime, limit: int) -> list[str]:
        """The open appeals past their due time, the longest overdue first."""
        cut = _naive(now)
        departments = (
            takewhile(lambda entry: entry[0] < cut, entries)
            for queue, entries in self._queues.items()
            if queue != TRIAGE
        )
        triage = sorted(
            (placement.due_at, appeal_id)
            for appeal_id in self._queue_ids(TRIAGE)
            if (placement := self._placed[appeal_id]).due_at is not None and placement.due_at < cut
        )
        return [appeal_id for _, appeal_id in islice(merge(triage, *departments), limit)]

    def _queue_ids(self, queue: str) -> Iterator[str]:
        return (appeal_id for _, appeal_id in self._queues.get(queue, ()))
