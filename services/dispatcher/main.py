"""Wiring of the dispatcher: its routing data, handlers, overdue check, reconciliation, triage desk and live preview
in the common service frame."""

from functools import partial

from fastapi import Depends
from faststream.asgi import AsgiFastStream

from services.dispatcher.domain import load_routing
from services.dispatcher.handlers import Dependencies, Publishers, assign, build_router, check_overdue, provide
from services.dispatcher.preview import build_preview_router
from services.dispatcher.reconcile import UnnoticedAppeals
from services.dispatcher.repository import (
    MongoAssignments,
    MongoOverdue,
    MongoReplies,
    MongoReports,
    MongoTriageDesk,
    ensure_indexes,
)
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.triage import build_triage_app
from shared.contracts import topics
from shared.contracts.base import utcnow
from shared.reconcile import reconciliation
from shared.service import Periodic, Wiring, assemble
from shared.staff_auth import StaffAuth


def create_app(settings: DispatcherSettings | None = None) -> AsgiFastStream:
    settings = settings or DispatcherSettings()
    staff = StaffAuth.from_settings(settings)
    # The frame builds the broker after `wire`; the handlers' dependencies go on its context once it exists.
    wired: list[tuple[Dependencies, Publishers]] = []

    def wire(store, park_record, taxonomy) -> Wiring:
        routing = load_routing(settings.routing_path, taxonomy, settings.deadlines(), settings.execution())
        deps = Dependencies(
            assignments=MongoAssignments(store),
            reports=MongoReports(store),
            replies=MongoReplies(store),
            overdue=MongoOverdue(store),
            routing=routing,
            park=park_record,
            clock=utcnow,
            overdue_batch=settings.overdue_check_batch,
        )
        router, publishers = build_router(settings, taxonomy)
        wired.append((deps, publishers))
        interval = settings.overdue_check_interval_s
        overdue_check = Periodic("overdue check", partial(check_overdue, deps, publishers), interval)
        desk = build_triage_app(
            MongoTriageDesk(store), routing, partial(assign, deps, publishers), utcnow, staff, settings
        )
        desk.include_router(build_preview_router(routing, [Depends(staff.required)]))
        # Assigned or closed, yet without the resident's notice although the notifier took everything before.
        unnoticed = UnnoticedAppeals(store)
        redrives = [
            reconciliation(
                settings, router, topic=topic, next_stage="notifier", step=step, missing=missing, clock=utcnow
            )
            for topic, step, missing in (
                (topics.APPEALS_ASSIGNED, "assignment notice", unnoticed.assigned),
                (topics.APPEALS_STATUS, "outcome notice", unnoticed.closed),
            )
        ]
        return Wiring(router, background=[overdue_check, *redrives], http_app=desk, indexes=ensure_indexes)

    app = assemble(
        settings,
        wire,
        title="CityLine dispatcher",
        description=(
            "Assigns each appeal to the responsible department with a deadline and publishes its task; groups mass "
            "incidents; applies departments' reports and tells residents; escalates overdue appeals."
        ),
    )
    ((deps, publishers),) = wired
    provide(app.broker, deps, publishers)  # type: ignore[arg-type]
    return app
