"""Wiring of the dispatcher: its routing data, handlers, overdue check and triage desk in the common service frame."""

from functools import partial

from faststream.asgi import AsgiFastStream

from services.dispatcher.domain import load_routing
from services.dispatcher.handlers import Dependencies, Publishers, assign, build_router, check_overdue, provide
from services.dispatcher.repository import MongoAssignments, MongoOverdue, MongoReports, MongoTriageDesk
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.triage import build_triage_app
from shared.contracts.base import utcnow
from shared.service import Periodic, Wiring, assemble


def create_app(settings: DispatcherSettings | None = None) -> AsgiFastStream:
    settings = settings or DispatcherSettings()
    # The frame builds the broker after `wire`; the handlers' dependencies go on its context once it exists.
    wired: list[tuple[Dependencies, Publishers]] = []

    def wire(store, park_record, taxonomy) -> Wiring:
        routing = load_routing(settings.routing_path, taxonomy, settings.deadlines())
        deps = Dependencies(
            assignments=MongoAssignments(store),
            reports=MongoReports(store),
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
            MongoTriageDesk(store), routing, partial(assign, deps, publishers), utcnow, settings.operator_token
        )
        return Wiring(router, background=[overdue_check], http_app=desk)

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
