"""The dispatcher's decide step alone (no broker, no store): routing with the street gazetteer, incident grouping, and
the whole batch decision of a classified batch (route, group, check against what the store holds).

    .venv/bin/python -m benchmarks.dispatcher_decide [-n 20000]

Appeals carry realistic addresses (a gazetteer street and house number, a neighbourhood in the text, or none), so
the figure includes finding the district. Compare with the store's update rate (about 2.6-2.9 k updates/s on the
embedded store): the decide step should be a small share of a batch's time.
"""

import argparse
import random
import time
import uuid

from services.dispatcher.documents import AppealDoc
from services.dispatcher.domain import group_incidents, load_routing, route
from services.dispatcher.domain.assignments import AssignmentSnapshot, decide_assignments, route_batch
from services.dispatcher.settings import DEFAULT_ROUTING
from shared.contracts.base import utcnow
from shared.contracts.classifier import AppealClassified, Classification
from shared.contracts.intake import Address
from shared.settings import DEFAULT_TAXONOMY
from shared.taxonomy import load_taxonomy

BATCH = 500  # the handlers' batch size (CITYLINE_BATCH_MAX_RECORDS)
TEXTS = [
    "Третій день немає гарячої води в квартирі",
    "Не працює ліфт у під'їзді, Троєщина",
    "Яма на дорозі біля зупинки на Позняках",
    "Не прибирають сніг біля будинку",
    "Протікає дах, вода в під'їзді",
]


def appeals(count: int, taxonomy) -> list[AppealClassified]:
    rng = random.Random(5)
    routing = load_routing(DEFAULT_ROUTING, taxonomy)
    streets = [street for street in routing.gazetteer.streets]
    categories = list(taxonomy.categories)
    now = utcnow()
    result = []
    for index in range(count):
        street = rng.choice(streets)
        kind = index % 3
        address = (
            Address(text=f"{street.type} {street.name}, {rng.randrange(1, 60)}")
            if kind == 0
            else Address(text=f"{street.name} {rng.randrange(1, 60)}, кв. 5")
            if kind == 1
            else None
        )
        result.append(
            AppealClassified(
                event_id=uuid.uuid4(),
                appeal_id=str(1_000_000 + index),
                channel="web",
                text=rng.choice(TEXTS),
                address=address,
                received_at=now,
                registered_at=now,
                classification=Classification(
                    category=rng.choice(categories), urgency="normal", confidence=0.9, ruleset="bench"
                ),
            )
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000)
    args = parser.parse_args()
    taxonomy = load_taxonomy(DEFAULT_TAXONOMY)
    routing = load_routing(DEFAULT_ROUTING, taxonomy)
    events = appeals(args.n, taxonomy)
    now = utcnow()

    started = time.perf_counter()
    decisions = [route(event, routing, now).assigned for event in events]
    routed = time.perf_counter() - started

    started = time.perf_counter()
    for start in range(0, len(decisions), BATCH):
        group_incidents(decisions[start : start + BATCH], {}, routing, now)
    grouped = time.perf_counter() - started

    # The handler's whole decision per batch, every appeal known to the store and none assigned yet.
    started, cpu_started = time.perf_counter(), time.process_time()
    for start in range(0, len(events), BATCH):
        chunk = events[start : start + BATCH]
        batch = route_batch(chunk, routing, now)
        snapshot = AssignmentSnapshot({e.appeal_id: AppealDoc(_id=e.appeal_id) for e in chunk})
        decide_assignments(batch, snapshot, routing, now)
    decided, decided_cpu = time.perf_counter() - started, time.process_time() - cpu_started

    located = sum(1 for d in decisions if d.assignment.district)
    found = f"district found for {located / args.n:.0%}"
    print(f"route(): {args.n / routed:,.0f} appeals/s ({routed * 1e6 / args.n:.0f} µs each); {found}")  # noqa: T201
    print(f"group_incidents(): {args.n / grouped:,.0f} appeals/s ({grouped * 1e6 / args.n:.0f} µs each)")  # noqa: T201
    print(  # noqa: T201
        f"route_batch() + decide_assignments() per batch of {BATCH}: {args.n / decided:,.0f} appeals/s "
        f"({decided * 1e6 / args.n:.0f} µs each, {decided_cpu * 1e6 / args.n:.0f} µs CPU)"
    )


if __name__ == "__main__":
    main()
