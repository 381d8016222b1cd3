"""`cityline asyncapi`: each service's AsyncAPI document (the event contract), written to docs/asyncapi."""

import argparse
import json
from typing import Any

from cityline.output import console


def add_parser(commands: Any) -> None:
    asyncapi = commands.add_parser("asyncapi", help="write each service's AsyncAPI document (the event contract)")
    asyncapi.add_argument("--out", default="docs/asyncapi", help="folder for <service>.json")
    asyncapi.set_defaults(func=cmd_asyncapi)


def asyncapi_documents() -> dict[str, dict]:
    """Each service's AsyncAPI 3.0 document, generated from its FastStream app with the default settings."""
    from services.classifier.main import create_app as classifier
    from services.classifier.settings import ClassifierSettings
    from services.dispatcher.main import create_app as dispatcher
    from services.dispatcher.settings import DispatcherSettings
    from services.intake.main import create_app as intake
    from services.intake.settings import IntakeSettings
    from services.knowledge.main import create_app as knowledge
    from services.knowledge.settings import KnowledgeSettings
    from services.notifier.main import create_app as notifier
    from services.notifier.settings import NotifierSettings
    from shared.settings import EMBEDDED_KAFKA

    # The documents describe the events only: no staff token is needed to build the apps for them.
    apps = {
        "intake": intake(IntakeSettings(kafka_bootstrap_servers=EMBEDDED_KAFKA, profile="development")),
        "classifier": classifier(ClassifierSettings(kafka_bootstrap_servers=EMBEDDED_KAFKA, profile="development")),
        "dispatcher": dispatcher(DispatcherSettings(kafka_bootstrap_servers=EMBEDDED_KAFKA, profile="development")),
        "notifier": notifier(NotifierSettings(kafka_bootstrap_servers=EMBEDDED_KAFKA)),
        "knowledge": knowledge(KnowledgeSettings(kafka_bootstrap_servers=EMBEDDED_KAFKA, profile="development")),
    }
    return {name: app.schema.to_specification().to_jsonable() for name, app in apps.items()}


def cmd_asyncapi(args: argparse.Namespace) -> int:
    from pathlib import Path

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, document in asyncapi_documents().items():
        path = out / f"{name}.json"
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        console.print(f"wrote {path}")
    return 0
