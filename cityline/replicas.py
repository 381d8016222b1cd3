"""More than one process of a service, in the same consumer group, beside an embedded stack's broker and store.

What `docker compose up --scale classifier=3` or a Deployment with three replicas does, on one machine: every
replica is `python -m services.<name>` with the stack's environment and an HTTP port of its own; Kafka's group
protocol shares the partitions among them. Used by the replica tests and the replica benchmark.
"""

import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from cityline.stack import EmbeddedStack, ManagedProcess, StackError, free_port
from shared.settings import StackSettings

# The services that consume topics in consumer groups: what replicas share.
CONSUMER_SERVICES = ("intake", "classifier", "dispatcher", "notifier")
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


def stack_of_its_own(run_dir: Path, service_env: dict[str, str] | None = None) -> EmbeddedStack:
    """An embedded broker, store and sinks on free ports with a database of their own: no other run's consumers
    join its groups."""
    ports = ("broker", "s3", "store", "sms_sink", "smtp_sink", "knowledge", "console", *CONSUMER_SERVICES)
    settings = StackSettings(run_dir=run_dir, **{f"{name}_port": free_port() for name in ports})
    database = f"cityline_replicas_{uuid.uuid4().hex[:8]}"
    return EmbeddedStack(settings, database=database, service_env=dict(service_env or {}))


@dataclass
class Replica:
    service: str
    index: int
    port: int
    process: ManagedProcess

    @property
    def name(self) -> str:
        return f"{self.service}-{self.index}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        """Its consumers hold partitions: /ready where the service has it, else /health (200 only then)."""
        try:
            response = httpx.get(f"{self.url}/ready", timeout=1.0)
            if response.status_code == 404:
                response = httpx.get(f"{self.url}/health", timeout=1.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a metric's samples on this replica's /metrics whose labels include `labels`."""
        text = httpx.get(f"{self.url}/metrics", timeout=5.0).text
        total = 0.0
        for line in text.splitlines():
            sample = _SAMPLE.match(line)
            if sample is None or sample["name"] != name:
                continue
            found = dict(re.findall(r'(\w+)="([^"]*)"', sample["labels"] or ""))
            if all(found.get(key) == value for key, value in labels.items()):
                total += float(sample["value"])
        return total

    def kill(self) -> None:
        """SIGKILL: no commit, no leaving the group; the broker notices at the session timeout."""
        process = self.process.process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)
        self.process.process = None
        self.process.pid_file.unlink(missing_ok=True)


@dataclass
class ReplicaSet:
    stack: EmbeddedStack
    replicas: list[Replica] = field(default_factory=list)

    def start(self, counts: dict[str, int], timeout_s: float = 120.0) -> list[Replica]:
        """Start `count` processes of each service and wait until every one of them holds partitions."""
        environment = self.stack.environment()
        started = []
        for service, count in counts.items():
            for index in range(1, count + 1):
                port = free_port()
                name = f"{service}-{index}"
                process = ManagedProcess(
                    name=name,
                    command=[sys.executable, "-m", f"services.{service}"],
                    pid_file=self.stack.run_dir / "pids" / f"{name}.pid",
                    log_file=self.stack.run_dir / "logs" / f"{name}.log",
                    env={**environment, f"CITYLINE_{service.upper()}_HTTP_PORT": str(port)},
                    marker=f"services.{service}",
                )
                process.start()
                started.append(Replica(service, index, port, process))
        self.replicas += started
        self.wait_ready(started, timeout_s)
        return started

    def wait_ready(self, replicas: list[Replica], timeout_s: float) -> None:
        """Until every one holds partitions at the same time: a later join takes partitions from an earlier one."""
        deadline = time.monotonic() + timeout_s
        waiting = list(replicas)
        while time.monotonic() < deadline:
            for replica in replicas:
                if not replica.process.running():
                    raise StackError(f"{replica.name} exited at start; its log says:\n{replica.process.log_tail()}")
            waiting = [replica for replica in replicas if not replica.ready()]
            if not waiting:
                return
            time.sleep(0.2)
        raise StackError(f"not ready within {timeout_s:.0f} s: {', '.join(r.name for r in waiting)}")

    def of(self, service: str) -> list[Replica]:
        return [replica for replica in self.replicas if replica.service == service]

    def stop(self) -> None:
        for replica in reversed(self.replicas):
            replica.process.stop()
        self.replicas.clear()
