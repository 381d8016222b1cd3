"""The supervisor board: today's intake by channel and its unclassified share, open and overdue appeals by
department, each department's on-time share of the appeals it resolved in the last 30 days, the overdue appeals
themselves and the open incidents; the same figures as CSV (one row per figure, for a spreadsheet).

What is open and overdue comes from the console's queues in memory, as of the request, and the page reads only the
overdue appeals it lists. Today's intake and the 30 days' resolutions group far more appeals than one page request may
read: a background job computes them every `supervisor_refresh_s` (300 s by default) and the page and the CSV show
the latest, with the time they were computed.
"""

import asyncio
import csv
import io
from collections.abc import Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from services.console.auth import role_required
from services.console.boards import BoardReads, SupervisorBoard, SupervisorHistory
from services.console.pages import KYIV, Screen, render
from services.console.repository import UserDoc
from shared.contracts.base import utcnow
from shared.service import Periodic


class LatestBoard:
    """The supervisor's figures grouped from the store as last computed (None until the first computation ends)."""

    def __init__(self, reads: BoardReads) -> None:
        self.reads = reads
        self.history: SupervisorHistory | None = None

    async def refresh(self) -> None:
        now = utcnow()
        self.history = await self.reads.supervisor_history(now, kyiv_day_start(now))

    async def board(self) -> SupervisorBoard | None:
        """The board now: the last history with what is open and overdue this moment."""
        if self.history is None:
            return None
        return await self.reads.supervisor_board(utcnow(), self.history)


@asynccontextmanager
async def board_refresh(app: FastAPI):
    latest = app.state.supervisor_board = LatestBoard(BoardReads(app.state.store, app.state.queues))
    job = Periodic("supervisor board", latest.refresh, app.state.settings.supervisor_refresh_s, first_delay_s=0)
    task = asyncio.create_task(job.loop(), name=job.name)
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def latest_board(request: Request) -> LatestBoard:
    return request.app.state.supervisor_board


LatestDep = Annotated[LatestBoard, Depends(latest_board)]
router = APIRouter(prefix="/supervisor", lifespan=board_refresh)
SCREENS = [Screen("/supervisor", "nav.supervisor", ("supervisor",), access_key="s")]
Supervisor = Annotated[UserDoc, Depends(role_required("supervisor"))]
CSV_COLUMNS = ("section", "code", "name", "measure", "value")


def kyiv_day_start(now: datetime) -> datetime:
    """Midnight of today as Kyiv's clock shows it: "today's intake" is the contact center's day."""
    return now.astimezone(KYIV).replace(hour=0, minute=0, second=0, microsecond=0)


@router.get("")
async def supervisor_board(request: Request, user: Supervisor, latest: LatestDep):
    board = await latest.board()
    return render(request, "supervisor.html", user, board=board, now=latest.history and latest.history.computed_at)


@router.get("/export.csv")
async def supervisor_export(request: Request, user: Supervisor, latest: LatestDep):
    board = await latest.board()
    if board is None or latest.history is None:
        return Response("the figures are still being computed; try again in a moment", status_code=503)
    taxonomy = request.app.state.taxonomy
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(board_rows(board, taxonomy))
    filename = f"cityline-supervisor-{latest.history.computed_at.astimezone(KYIV):%Y-%m-%d-%H%M}.csv"
    return Response(
        # A byte-order mark, so that spreadsheet programs read the Ukrainian names as UTF-8.
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def board_rows(board: SupervisorBoard, taxonomy) -> Iterator[tuple]:
    """The board's figures, one (section, code, name, measure, value) row each, in the order the page shows them."""
    for channel, count in board.intake_by_channel.items():
        yield ("intake_today", channel, channel, "appeals", count)
    yield ("intake_today", "", "", "total", board.intake_today)
    yield ("intake_today", "unclassified", "", "appeals", board.unclassified_today)
    share = board.unclassified_share
    yield ("intake_today", "unclassified", "", "share", "" if share is None else f"{share:.3f}")
    for line in board.departments:
        name = taxonomy.department_name(line.department) if line.department in taxonomy.department_codes() else ""
        yield ("departments", line.department, name, "open", line.open)
        yield ("departments", line.department, name, "overdue", line.overdue)
        yield ("departments", line.department, name, "resolved_30d", line.closed)
        on_time = line.on_time_share
        yield ("departments", line.department, name, "on_time_share", "" if on_time is None else f"{on_time:.3f}")
    for quality in board.quality:
        name = taxonomy.department_name(quality.department) if quality.department in taxonomy.department_codes() else ""
        for measure in ("resolved", "on_time_share", "disputed_share", "reopens", "median_hours_to_resolve"):
            value = getattr(quality, measure)
            shown = "" if value is None else (f"{value:.3f}" if isinstance(value, float) else value)
            yield (f"quality_{board.month}", quality.department, name, measure, shown)
    for appeal in board.overdue:
        yield ("overdue", appeal.appeal_id, appeal.department or "", "due_at", appeal.due_at.isoformat())
    yield ("incidents", "", "", "open", board.open_incidents)
    for incident in board.incidents:
        yield ("incidents", incident.incident_id, incident.location, "appeals", incident.count)
