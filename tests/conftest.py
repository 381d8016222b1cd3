"""Which broker and store the integration and e2e tests use.

KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI given -> those servers. Otherwise, with a Docker engine
reachable -> Kafka and MongoDB in testcontainers. Otherwise -> the embedded stack (Tansu and
SecantusDB as local processes), which is always there, so nothing skips for lack of servers.
"""

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from cityline.stack import EmbeddedStack, free_port
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
        store_port=free_port(),
        intake_port=free_port(),
        classifier_port=free_port(),
        dispatcher_port=free_port(),
        notifier_port=free_port(),
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
    stack = EmbeddedStack(
        _stack_settings(tmp_path_factory.mktemp("stack")),
        kafka_bootstrap_servers=given_kafka or None,
        mongodb_uri=given_mongo or None,
        database=f"cityline_test_{uuid.uuid4().hex[:8]}",
        # Stalled appeals are announced again after a second, and overdue ones escalated within a second or two, so
        # the tests need not wait a minute.
        service_env={
            "CITYLINE_INTAKE_REDRIVE_AFTER_S": "1",
            "CITYLINE_INTAKE_REDRIVE_INTERVAL_S": "1",
            "CITYLINE_DISPATCHER_OVERDUE_CHECK_INTERVAL_S": "1",
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
def servers(stack: EmbeddedStack) -> Servers:
    kind = "given" if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") else "embedded"
    return Servers(stack.bootstrap, stack.store_uri, kind)


@pytest.fixture(scope="session")
def pipeline(stack: EmbeddedStack) -> EmbeddedStack:
    """The four services running as processes against the session's broker and store."""
    if not any(process.name == "intake" for process in stack.processes):
        stack.start_services()
    return stack
