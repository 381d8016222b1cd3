"""Street suggestions (`GET /v1/streets` on the dispatcher) over the whole gazetteer: p50 and p95 per lookup.

    .venv/bin/python -m benchmarks.street_suggestions [-n 2000]

The queries are what an operator types into the address field, letter by letter: beginnings of street names
(Ukrainian, Russian, Latin letters), a name and a house number, words in another order, and typos. The index is
built once (as the dispatcher does at start-up); the figure is the lookup alone, in this process.
"""

import argparse
import random
import statistics
import time

from services.dispatcher.domain import load_routing
from services.dispatcher.settings import DEFAULT_ROUTING
from services.dispatcher.streets import StreetIndex
from shared.settings import DEFAULT_TAXONOMY
from shared.taxonomy import load_taxonomy

FIXED = [
    "хрещ", "велика вас", "васильківська вел", "хрешатик", "вул. драйзера 30", "kreshchat", "bolshaya vas",
    "просп. перемоги 136", "лук'ян", "оболонськ", "героїв дн", "vul. luk'ianivs", "московская 40", "пр", "б",
]  # fmt: skip


def queries(index: StreetIndex, count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    names = [form.text for form in index.forms]
    out = list(FIXED)
    while len(out) < count:
        name = rng.choice(names)
        kind = rng.random()
        if kind < 0.5:
            out.append(name[: rng.randint(2, max(2, len(name)))])  # typing it letter by letter
        elif kind < 0.7:
            out.append(f"{name} {rng.randint(1, 150)}")
        elif kind < 0.85:
            out.append(" ".join(reversed(name.split())))
        else:
            position = rng.randrange(len(name))
            out.append(name[:position] + rng.choice("аеиоклмн") + name[position + 1 :])  # a typo
    return out[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=2000, help="lookups")
    args = parser.parse_args()
    taxonomy = load_taxonomy(DEFAULT_TAXONOMY)
    routing = load_routing(DEFAULT_ROUTING, taxonomy)
    assert routing.gazetteer is not None
    started = time.perf_counter()
    index = StreetIndex(routing.gazetteer, taxonomy.districts)
    built = time.perf_counter() - started
    timings = []
    for query in queries(index, args.n):
        started = time.perf_counter()
        index.suggest(query)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(  # noqa: T201 - a benchmark's report
        f"{len(routing.gazetteer.streets)} entries, {len(index.forms)} forms, index built in {built * 1000:.0f} ms; "
        f"{len(timings)} lookups: p50 {statistics.median(timings):.2f} ms, p95 {p95:.2f} ms, max {timings[-1]:.2f} ms"
    )


if __name__ == "__main__":
    main()
