"""Wiring of the dispatcher: its routing data, handlers, overdue check, triage desk and
live preview in the common service frame."""

from fastapi import Depends
from faststream.asgi import AsgiFastStream

from services.dispatcher.domain import load_routing
from services.dispatcher.handlers import build_dispatcher
from services.dispatcher.preview import build_preview_router
from services.dispatcher.reconcile import UnnoticedAppeals
from services.dispatcher.repository import MongoDispatcherRepository
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.triage import build_triage_app
from shared.contracts import topics
from shared.contracts.base import utcnow
from shared.reconcile import reconciliation
from shared.service import Periodic, Wiring, assemble
from shared.staff_auth import StaffAuth


def create_app(settings: DispatcherSettings | None = None) -> AsgiFastStream:
    settings = settings or DispatcherSettings()
    # Before anything connects: without its staff token outside development the service refuses to start.
    staff = StaffAuth.from_settings(settings)

    def wire(store, park_record, taxonomy) -> Wiring:
        routing = load_routing(settings.routing_path, taxonomy, settings.deadlines())
        repo = MongoDispatcherRepository(store)
        dispatcher = build_dispatcher(
            settings, repo, routing, park_record, utcnow, overdue_batch=settings.overdue_check_batch
        )
        overdue_check = Periodic("overdue check", dispatcher.check_overdue, settings.overdue_check_interval_s)
        desk = build_triage_app(repo, routing, dispatcher.assign, utcnow, staff, settings)
        desk.include_router(build_preview_router(routing, [Depends(staff.required)]))
        # Assigned or closed, yet without the resident's notice although the notifier took everything before.
        unnoticed = UnnoticedAppeals(store)
        redrives = [
            reconciliation(
                settings,
                dispatcher.router,
                topic=topic,
                next_stage="notifier",
                step=step,
                missing=missing,
                clock=utcnow,
            )
            for topic, step, missing in (
                (topics.APPEALS_ASSIGNED, "assignment notice", unnoticed.assigned),
                (topics.APPEALS_STATUS, "outcome notice", unnoticed.closed),
            )
        ]
        return Wiring(dispatcher.router, background=[overdue_check, *redrives], http_app=desk)

    return assemble(
        settings,
        wire,
        title="CityLine dispatcher",
        description=(
            "Assigns each appeal to the responsible department with a deadline and publishes its task; groups mass "
            "incidents; applies departments' reports and tells residents; escalates overdue appeals."
        ),
    )
