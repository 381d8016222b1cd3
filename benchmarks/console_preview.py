"""The operator console's live preview: the classifier's and the dispatcher's /v1/preview, one after the other as the
console calls them, over the real appeal texts of datasets/appeals (and a street lookup as the address is typed).

    .venv/bin/python -m benchmarks.console_preview [--rounds 3] [--texts N]
        the service apps in this process, called through httpx's ASGI transport: server time, no network
    .venv/bin/python -m benchmarks.console_preview --classifier http://127.0.0.1:8001 --dispatcher http://127.0.0.1:8002
        the running services (`cityline up`); the staff token is read from .run/staff-token unless --token is given

Prints p50/p95/max in milliseconds of each call and of the whole preview (classify, then route), the load average,
and the same-run reference: the two pure decide steps (`classify_text`, `route`) called directly on the same texts, so
the share the HTTP layer adds is visible whatever the machine's load. Target: the whole preview at most 50 ms at p95.
"""

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

import httpx
from pydantic import SecretStr

from shared.contracts.base import utcnow

DATASETS = Path(__file__).resolve().parents[1] / "datasets" / "appeals"
BENCH_TOKEN = "benchmark-staff-token-0123456789abcdef"


def appeal_texts() -> list[dict]:
    items = []
    for path in sorted(DATASETS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                # The datasets also label styles (surzhyk, translit, mixed); the console sends a resident's language.
                language = item.get("lang") if item.get("lang") in ("uk", "ru", "en") else None
                items.append({"text": item["text"], "address": item.get("address"), "lang": language})
    return items


def in_process_clients() -> tuple[httpx.AsyncClient, httpx.AsyncClient, str]:
    from services.classifier.main import create_app as classifier_app
    from services.classifier.settings import ClassifierSettings
    from services.dispatcher.main import create_app as dispatcher_app
    from services.dispatcher.settings import DispatcherSettings

    token = SecretStr(BENCH_TOKEN)
    classifier = classifier_app(ClassifierSettings(staff_token=token))
    dispatcher = dispatcher_app(DispatcherSettings(staff_token=token))
    return (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=classifier), base_url="http://classifier"),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=dispatcher), base_url="http://dispatcher"),
        BENCH_TOKEN,
    )


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return f"p50 {cuts[49]:6.2f}  p95 {cuts[94]:6.2f}  max {ordered[-1]:6.2f} ms  (n={len(ordered)})"


async def run(
    classifier: httpx.AsyncClient, dispatcher: httpx.AsyncClient, token: str, rounds: int, texts: int | None
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    items = appeal_texts()
    if texts:
        # An even sample across the files, when a shorter run is wanted.
        items = items[:: max(1, len(items) // texts)][:texts]
    timings: dict[str, list[float]] = {"classifier": [], "dispatcher": [], "whole preview": [], "streets": []}
    # One warm-up pass: the lexicon's memory of words and the first requests' set-up are not what an operator waits on.
    for round_number in range(rounds + 1):
        for item in items:
            started = time.perf_counter()
            classified = await classifier.post(
                "/v1/preview", json={"text": item["text"], "language": item["lang"]}, headers=headers
            )
            middle = time.perf_counter()
            classified.raise_for_status()
            routed = await dispatcher.post(
                "/v1/preview",
                json={
                    "classification": classified.json()["classification"],
                    "address": {"text": item["address"]} if item["address"] else None,
                    "channel": "phone",
                    "received_at": utcnow().isoformat(),
                    "text": item["text"],
                },
                headers=headers,
            )
            ended = time.perf_counter()
            routed.raise_for_status()
            if round_number:
                timings["classifier"].append((middle - started) * 1000)
                timings["dispatcher"].append((ended - middle) * 1000)
                timings["whole preview"].append((ended - started) * 1000)
            if item["address"]:
                typed = item["address"][:6]
                started = time.perf_counter()
                (await dispatcher.get("/v1/streets", params={"q": typed}, headers=headers)).raise_for_status()
                if round_number:
                    timings["streets"].append((time.perf_counter() - started) * 1000)
    timings.update(pure_reference(items))
    print(f"{len(items)} appeal texts of datasets/appeals, {rounds} rounds after a warm-up")  # noqa: T201
    for name, samples in timings.items():
        if samples:
            print(f"{name:24} {percentiles(samples)}")  # noqa: T201
    print("load average " + " ".join(f"{load:.2f}" for load in os.getloadavg()))  # noqa: T201


def pure_reference(items: list[dict]) -> dict[str, list[float]]:
    """The decide steps alone, in this process, on the same texts: what no HTTP layer can make faster."""
    from services.classifier.domain import classify_text
    from services.classifier.rulebook import read_rules
    from services.classifier.settings import DEFAULT_RULES
    from services.dispatcher.domain import load_routing, route
    from services.dispatcher.preview import UNREGISTERED
    from services.dispatcher.settings import DEFAULT_ROUTING
    from shared.contracts.classifier import AppealClassified
    from shared.settings import DEFAULT_TAXONOMY
    from shared.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(DEFAULT_TAXONOMY)
    rules, routing = read_rules(DEFAULT_RULES, taxonomy), load_routing(DEFAULT_ROUTING, taxonomy)
    classify_ms, route_ms = [], []
    for item in items:
        started = time.perf_counter()
        classification = classify_text(item["text"], rules)
        middle = time.perf_counter()
        now = utcnow()
        appeal = AppealClassified(
            appeal_id=UNREGISTERED,
            channel="phone",
            text=item["text"],
            address={"text": item["address"]} if item["address"] else None,
            received_at=now,
            registered_at=now,
            classification=classification,
        )
        route(appeal, routing, now)
        ended = time.perf_counter()
        classify_ms.append((middle - started) * 1000)
        route_ms.append((ended - middle) * 1000)
    return {"reference: classify_text": classify_ms, "reference: route": route_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--texts", type=int, help="an even sample of this many texts (default: all)")
    parser.add_argument("--classifier", help="base URL of a running classifier")
    parser.add_argument("--dispatcher", help="base URL of a running dispatcher")
    parser.add_argument("--token", help="the staff token (default: .run/staff-token)")
    args = parser.parse_args()
    if args.classifier and args.dispatcher:
        token = args.token or Path(".run/staff-token").read_text().strip()
        classifier = httpx.AsyncClient(base_url=args.classifier, timeout=30)
        dispatcher = httpx.AsyncClient(base_url=args.dispatcher, timeout=30)
        print("running services over HTTP")  # noqa: T201
    else:
        classifier, dispatcher, token = in_process_clients()
        print("service apps in this process (ASGI transport)")  # noqa: T201
    asyncio.run(measure(classifier, dispatcher, token, args.rounds, args.texts))


async def measure(
    classifier: httpx.AsyncClient, dispatcher: httpx.AsyncClient, token: str, rounds: int, texts: int | None
) -> None:
    async with classifier, dispatcher:
        await run(classifier, dispatcher, token, rounds, texts)


if __name__ == "__main__":
    main()
