"""Appeal documents as the services leave them in the store, made fast and in bulk: the seeding step of the console's
page benchmark (`insert_many`, no pipeline run).

Each document has the fields and history intake, the classifier and the dispatcher write: a real appeal text of
datasets/appeals with its labelled category, the department the taxonomy gives for it and a district, a due time by
urgency, and a status that fits its age (most old appeals closed, some overdue, a few in triage).
"""

import json
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shared.taxonomy import Taxonomy

DATASETS = Path(__file__).resolve().parents[1] / "datasets" / "appeals"
CHANNELS = ("phone", "phone", "phone", "web", "mobile_app", "telegram", "open311")


def labelled_appeals() -> list[dict[str, Any]]:
    items = []
    for path in sorted(DATASETS.glob("*.jsonl")):
        items += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return items


def appeal_documents(
    count: int, taxonomy: Taxonomy, now: datetime, *, days: int = 60, first_number: int = 5_000_000, seed: int = 15
) -> Iterator[dict[str, Any]]:
    """`count` appeals received over the last `days` days, numbered from `first_number`, oldest first."""
    rng = random.Random(seed)
    texts = labelled_appeals()
    districts = list(taxonomy.districts)
    span = timedelta(days=days).total_seconds()
    for index in range(count):
        item = rng.choice(texts)
        received = now - timedelta(seconds=span * (1 - index / count))
        yield _document(str(first_number + index), item, received, now, rng, taxonomy, rng.choice(districts))


def _document(
    appeal_id: str,
    item: dict,
    received: datetime,
    now: datetime,
    rng: random.Random,
    taxonomy: Taxonomy,
    district: str,
) -> dict[str, Any]:
    category, urgency = item["category"], item["urgency"]
    department = taxonomy.department_for(category, district) or "contact_center"
    triage = category == "unclassified" or (department == "contact_center" and rng.random() < 0.5)
    due = received + taxonomy.due_after(urgency)
    registered = received + timedelta(milliseconds=40)
    decided = received + timedelta(milliseconds=90)
    history = [
        {"status": "registered", "at": registered, "event_id": str(uuid.uuid4()), "by": "intake"},
        {"status": "classified", "at": decided, "event_id": str(uuid.uuid4()), "by": "classifier"},
        {
            "status": "triage" if triage else "assigned",
            "at": decided,
            "event_id": str(uuid.uuid4()),
            "by": "dispatcher",
            "note": f"{category} -> {department}",
        },
    ]
    status = history[-1]["status"]
    if not triage:
        # Older appeals are mostly closed, about one in eight after its due time; recent ones still in work.
        age = (now - received) / (due - received)
        if age > 0.3:
            finished = received + (due - received) * rng.uniform(0.1, 1.15)
            if finished < now:
                status = "resolved" if rng.random() < 0.93 else "rejected"
                history.append({"status": "accepted", "at": received + (finished - received) / 4, "by": department})
                history.append(
                    {"status": status, "at": finished, "by": department, "note": "Виконано, дякуємо за звернення"}
                )
            else:
                status = rng.choice(("accepted", "in_progress"))
                history.append({"status": status, "at": received + (now - received) / 3, "by": department})
        for entry in history[3:]:
            entry["event_id"] = str(uuid.uuid4())
    phone = f"+38067{rng.randrange(10**6, 10**7)}"
    return {
        "_id": appeal_id,
        "intake_key": f"bench:{appeal_id}",
        "correlation_id": f"bench-{appeal_id}",
        "channel": rng.choice(CHANNELS),
        "text": item["text"],
        "contact": {"name": "Заявник", "phone": phone, "language": "uk", "notifications": True},
        "address": {"text": item["address"]} if item.get("address") else None,
        "received_at": received,
        "registered_at": registered,
        "status": status,
        "updated_at": history[-1]["at"],
        "classification": {
            "category": category,
            "urgency": urgency,
            "confidence": 0.0 if category == "unclassified" else 0.8,
            "matched_rules": [],
            "matched_terms": [],
            "ruleset": "bench",
            "decided_by": "rules",
            "decision_id": history[1]["event_id"],
            "decided_at": decided,
        },
        "assignment": {
            "department": "contact_center" if triage else department,
            "department_name": taxonomy.department_name("contact_center" if triage else department),
            "district": district,
            "due_at": due,
            "outcome": "triage" if triage else "assigned",
            "reason": history[2]["note"],
            "incident_id": None,
        },
        "history": history,
    }
