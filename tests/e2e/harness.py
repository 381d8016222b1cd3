"""`cityline up` run as a user runs it, in a run folder of its own on free ports, with the CLI beside it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cityline.stack import free_port

CITYLINE = [sys.executable, "-m", "cityline.cli"]


class RunningStack:
    def __init__(self, run_dir: Path, **env: str) -> None:
        self.run_dir = run_dir
        self.ports = {
            name: free_port()
            for name in (
                "broker",
                "s3",
                "store",
                "intake",
                "classifier",
                "dispatcher",
                "notifier",
                "console",
                "knowledge",
                "sms_sink",
                "smtp_sink",
            )
        }
        self.env = {
            key: value for key, value in os.environ.items() if key not in {"KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI"}
        }
        self.env.update({f"CITYLINE_STACK_{name.upper()}_PORT": str(port) for name, port in self.ports.items()})
        self.env["CITYLINE_STACK_RUN_DIR"] = str(run_dir)
        self.env.update(env)
        self.client_env = {
            **self.env,
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{self.ports['broker']}",
            "MONGODB_URI": f"mongodb://127.0.0.1:{self.ports['store']}/?retryWrites=false",
        }
        self.process: subprocess.Popen | None = None

    # Four services start in well under a minute on a quiet machine; a shared, loaded one needs minutes.
    def up(self, *options: str, timeout: float = 240) -> str:
        self.process = subprocess.Popen(
            [*CITYLINE, "up", *options], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        output = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            output.append(line)
            if line.startswith("Try:"):
                return "".join(output)
        raise AssertionError("cityline up did not come up:\n" + "".join(output))

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([*CITYLINE, *args], env=self.client_env, capture_output=True, text=True, timeout=60)
        if check:
            assert result.returncode == 0, result.stderr + result.stdout
        return result

    def interrupt(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        self.process.stdout.close()
        return code

    def pid(self, process: str) -> int:
        """The pid of one of the stack's processes (tansu, s3-server, secantusdb, intake, ...), from its pid file."""
        return int((self.run_dir / "pids" / f"{process}.pid").read_text().strip())

    def crash(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        self.process.stdout.close()
