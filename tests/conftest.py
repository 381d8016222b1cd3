"""Which broker and store the integration and e2e tests use.

KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI given -> those servers. Otherwise, with a Docker engine
reachable -> Kafka and MongoDB in testcontainers. Otherwise -> the embedded stack (Tansu and
SecantusDB as local processes), which is always there, so nothing skips for lack of servers.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cityline.stack import EmbeddedStack, free_port
from services.classifier.settings import DEFAULT_RULES
from shared.settings import StackSettings


@dataclass
class Servers:
    bootstrap: str
    mongodb_uri: str
    kind: str


def _docker_reachable() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


def _stack_settings(run_dir) -> StackSettings:
    return StackSettings(
        run_dir=run_dir,
        broker_port=free_port(),
        s3_port=free_port(),
        store_port=free_port(),
        intake_port=free_port(),
        classifier_port=free_port(),
        dispatcher_port=free_port(),
        notifier_port=free_port(),
        knowledge_port=free_port(),
        console_port=free_port(),
        sms_sink_port=free_port(),
        smtp_sink_port=free_port(),
    )


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[EmbeddedStack]:
    """Broker and store for the session; services are started by the `pipeline` fixture."""
    given_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    given_mongo = os.environ.get("MONGODB_URI")
    containers = []
    if not (given_kafka and given_mongo) and _docker_reachable():
        from testcontainers.community.mongodb import MongoDbContainer
        from testcontainers.kafka import KafkaContainer

        kafka, mongo = KafkaContainer().start(), MongoDbContainer().start()
        containers = [kafka, mongo]
        given_kafka, given_mongo = kafka.get_bootstrap_server(), mongo.get_connection_url()
    # The classifier reads a copy of the rules, so a test may change them on the running service.
    classifier_rules = tmp_path_factory.mktemp("classifier") / "rules.yaml"
    shutil.copyfile(DEFAULT_RULES, classifier_rules)
    stack = EmbeddedStack(
        _stack_settings(tmp_path_factory.mktemp("stack")),
        kafka_bootstrap_servers=given_kafka or None,
        mongodb_uri=given_mongo or None,
        database=f"cityline_test_{uuid.uuid4().hex[:8]}",
        # Stalled appeals are announced again after a second and overdue ones escalated within a second or two, so
        # the tests need not wait a minute.
        service_env={
            "CITYLINE_INTAKE_REDRIVE_AFTER_S": "1",
            "CITYLINE_INTAKE_REDRIVE_INTERVAL_S": "1",
            # Every stage's reconciliation (shared/reconcile.py) looks every second at appeals a second old.
            "CITYLINE_RECONCILE_INTERVAL_S": "1",
            "CITYLINE_RECONCILE_AFTER_S": "1",
            "CITYLINE_DISPATCHER_OVERDUE_CHECK_INTERVAL_S": "1",
            # Notices: retried after 0.2, 0.4, 0.8, 1, 1, ... s for about a minute, so an outage test is short.
            "CITYLINE_NOTIFIER_RETRY_BASE_S": "0.2",
            "CITYLINE_NOTIFIER_RETRY_CAP_S": "1",
            "CITYLINE_NOTIFIER_RETRY_MAX_ATTEMPTS": "60",
            "CITYLINE_NOTIFIER_DELIVERY_INTERVAL_S": "0.1",
            # A notifier killed mid-send leaves its notices to the restarted one after 3 s, not a minute.
            "CITYLINE_NOTIFIER_HTTP_TIMEOUT_S": "2",
            "CITYLINE_NOTIFIER_SMTP_TIMEOUT_S": "2",
            "CITYLINE_NOTIFIER_DELIVERY_LEASE_S": "3",
            # A channel registered during a test is seen by the notifier at once.
            "CITYLINE_NOTIFIER_CHANNEL_CACHE_S": "0",
            "CITYLINE_CLASSIFIER_RULES_PATH": str(classifier_rules),
            "CITYLINE_CLASSIFIER_RULES_RELOAD_S": "1",
            # Every test reads from 127.0.0.1: the per-address limit of public reads is tested on its own.
            "CITYLINE_INTAKE_PUBLIC_READS_PER_MINUTE": "1000000",
            # A client that trickles its request head is answered 408 after 5 s, so that test is short.
            # The machine is shared and loaded: requests get 10 s here; the deadline's own test keeps the default.
            "CITYLINE_HTTP_DEADLINE_S": "10",
            "CITYLINE_HTTP_HEADER_TIMEOUT_S": "5",
        },
    )
    stack.start(with_services=False)
    try:
        yield stack
    finally:
        stack.stop()
        for container in containers:
            container.stop()


@pytest.fixture(scope="session")
def classifier_rules(stack: EmbeddedStack) -> Path:
    """The rule file the running classifier reads (a copy of the shipped one, reloaded when it changes)."""
    return Path(stack.service_env["CITYLINE_CLASSIFIER_RULES_PATH"])


@pytest.fixture(scope="session")
def servers(stack: EmbeddedStack) -> Servers:
    kind = "given" if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") else "embedded"
    return Servers(stack.bootstrap, stack.store_uri, kind)


@pytest.fixture(scope="session")
def pipeline(stack: EmbeddedStack) -> EmbeddedStack:
    """The four services running as processes against the session's broker and store."""
    if not any(process.name == "intake" for process in stack.processes):
        stack.start_services()
    return stack
