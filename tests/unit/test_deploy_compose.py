"""docker-compose.yml, checked without a Docker engine: `docker-compose config` (Debian's docker-compose) accepts
it, and what it resolves keeps the promises the file makes: start order on health, the topic job before the
services, no fixed host ports on the services (so `--scale` works), secrets from files, production settings."""

import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SERVICES = ("intake", "classifier", "dispatcher", "notifier", "console")


def docker_compose_config(compose_file: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose (Debian package docker-compose, deploy/ci/debian-packages.txt) is not installed")
    return subprocess.run(
        [binary, "--project-directory", str(ROOT), "-f", str(compose_file), "config"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


@functools.cache
def resolved() -> dict[str, Any]:
    result = docker_compose_config(COMPOSE_FILE)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_docker_compose_accepts_the_file() -> None:
    assert set(SERVICES) | {"kafka", "mongodb", "topics", "prometheus", "grafana", "sms-sink", "smtp-sink"} <= set(
        resolved()["services"]
    )


def test_docker_compose_refuses_a_broken_file(tmp_path: Path) -> None:
    broken = yaml.safe_load(COMPOSE_FILE.read_text())
    broken["services"]["classifier"]["depends_on"]["topics"]["condition"] = "service_finished"
    (tmp_path / "docker-compose.yml").write_text(yaml.safe_dump(broken))
    result = docker_compose_config(tmp_path / "docker-compose.yml")
    assert result.returncode != 0
    assert "condition" in result.stderr


def test_services_start_after_healthy_infrastructure_and_the_topic_job() -> None:
    services = resolved()["services"]
    for name in SERVICES:
        assert services[name]["depends_on"]["kafka"] == {"condition": "service_healthy"}
        assert services[name]["depends_on"]["mongodb"] == {"condition": "service_healthy"}
        assert services[name]["depends_on"]["topics"] == {"condition": "service_completed_successfully"}
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]
    assert services["topics"]["command"][:3] == ["cityline", "topics", "create"]
    assert services["topics"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    for infrastructure in ("kafka", "mongodb"):
        assert services[infrastructure]["healthcheck"]["test"], infrastructure


def test_scalable_services_publish_no_fixed_host_port() -> None:
    for name in SERVICES:
        for port in resolved()["services"][name].get("ports", []):
            assert isinstance(port, dict) and "published" not in port, f"{name} publishes a fixed host port: {port}"


def test_kafka_runs_in_kraft_mode_and_mongodb_as_a_replica_set() -> None:
    services = resolved()["services"]
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "zookeeper" not in str(kafka).lower()
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert services["mongodb"]["command"][:3] == ["mongod", "--replSet", "rs0"]
    assert services["mongodb"]["healthcheck"]["test"][-1].endswith("mongodb-replica-set.js")
    assert "rs.initiate" in (ROOT / "deploy" / "compose" / "mongodb-replica-set.js").read_text()


def test_production_settings_acks_all_and_majority_journaled_writes() -> None:
    for name in SERVICES:
        environment = resolved()["services"][name]["environment"]
        assert environment["CITYLINE_KAFKA_ACKS"] == "all"
        options = environment["MONGODB_URI"].split("?", 1)[1].split("&")
        assert {"replicaSet=rs0", "w=majority", "journal=true"} <= set(options), name


def test_secrets_come_from_files_that_are_not_committed() -> None:
    config = resolved()
    services = config["services"]
    for name in SERVICES:
        assert "CITYLINE_STAFF_TOKEN" in {secret["source"] for secret in services[name]["secrets"]}
        assert not any("TOKEN" in key or "SECRET" in key for key in services[name]["environment"]), name
    assert "CITYLINE_CONSOLE_SESSION_SECRET" in {secret["source"] for secret in services["console"]["secrets"]}
    secrets_folder = ROOT / "deploy" / "compose" / "secrets"
    for name, secret in config["secrets"].items():
        assert Path(secret["file"]).parent == secrets_folder, name
    tracked = subprocess.run(
        ["git", "ls-files", str(secrets_folder)], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.split()
    assert tracked == ["deploy/compose/secrets/.gitignore"]


def mounts(service: str) -> dict[str, str]:
    """Where each volume of a service is mounted: docker-compose 1 writes "source:target:mode", Compose 2 a mapping."""
    found = {}
    for volume in resolved()["services"][service]["volumes"]:
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
            found[target] = source
        else:
            found[volume["target"]] = volume.get("source", "")
    return found


def test_prometheus_loads_the_projects_rules_and_finds_every_replica() -> None:
    assert mounts("prometheus")["/etc/prometheus/cityline"] == str(ROOT / "deploy" / "prometheus")
    config = yaml.safe_load((ROOT / "deploy" / "compose" / "prometheus.yml").read_text())
    assert all(path.startswith("/etc/prometheus/cityline/") for path in config["rule_files"])
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(SERVICES)
    for name, job in jobs.items():
        (discovery,) = job["dns_sd_configs"]
        assert (discovery["names"], discovery["port"]) == ([name], 8080)
        assert {"target_label": "system", "replacement": "cityline"} in job["relabel_configs"]
    assert {"/etc/grafana/provisioning", "/var/lib/grafana/dashboards"} <= set(mounts("grafana"))


def test_promtool_accepts_the_compose_prometheus_config() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool (Debian package prometheus, deploy/ci/debian-packages.txt) is not installed")
    config = ROOT / "deploy" / "compose" / "prometheus.yml"
    result = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
