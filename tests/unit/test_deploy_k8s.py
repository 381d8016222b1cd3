"""deploy/k8s: the base and every overlay render with kustomize (`kubectl kustomize`), every built-in resource is
valid for Kubernetes (kubernetes-validate, strict), every operator resource matches its schema (check-jsonschema,
deploy/k8s/schemas), and the rendered services keep the rules operators rely on: probes, resources, a non-root user
with a read-only root file system, a disruption budget, settings and secrets by reference, scaling on lag capped at
the partitions."""

import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SCHEMAS = K8S / "schemas"
KUSTOMIZATIONS = ("base", "overlays/dev", "overlays/prod")
# The oldest Kubernetes the manifests are meant for (PodDisruptionBudget policy/v1, HPA autoscaling/v2, sizeLimit).
KUBERNETES_VERSION = "1.29.0"
OPERATOR_SCHEMAS = {
    "ScaledObject": "keda-scaledobject.json",
    "KafkaTopic": "strimzi-kafkatopic.json",
    "MongoDBCommunity": "mongodbcommunity.json",
}
SERVICES = ("intake", "classifier", "dispatcher", "notifier", "console", "knowledge")
SECRET_NAMES = {"cityline-secrets", "cityline-mongodb-uri"}


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl (with its built-in kustomize) is needed to render deploy/k8s: it is not on PATH")
    return found


@functools.cache
def rendered(kustomization: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(K8S / kustomization)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {kustomization} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def built_in_problems(docs: tuple[dict[str, Any], ...]) -> list[str]:
    problems = []
    for doc in docs:
        if doc["kind"] in OPERATOR_SCHEMAS:
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as error:
            problems.append(f"{doc['kind']}/{doc['metadata']['name']}: {error}")
    return problems


def check_jsonschema(schema: Path, documents: list[dict[str, Any]], folder: Path) -> subprocess.CompletedProcess:
    paths = []
    for index, doc in enumerate(documents):
        path = folder / f"{doc['kind']}-{index}.json"
        path.write_text(json.dumps(doc))
        paths.append(str(path))
    command = [sys.executable, "-m", "check_jsonschema", "--schemafile", str(schema), *paths]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_built_in_resource_is_valid_kubernetes(kustomization: str) -> None:
    docs = rendered(kustomization)
    assert {"Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "NetworkPolicy"} <= {d["kind"] for d in docs}
    assert built_in_problems(docs) == []


def test_a_broken_resource_is_refused_by_the_validator() -> None:
    deployment = json.loads(json.dumps(of_kind(rendered("base"), "Deployment")["classifier"]))
    deployment["spec"]["replicas"] = "two"
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGett"] = {}
    assert len(built_in_problems((deployment,))) == 1


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
@pytest.mark.parametrize("kind", sorted(OPERATOR_SCHEMAS))
def test_every_operator_resource_matches_its_schema(kustomization: str, kind: str, tmp_path: Path) -> None:
    documents = [doc for doc in rendered(kustomization) if doc["kind"] == kind]
    assert documents, f"no {kind} in {kustomization}"
    result = check_jsonschema(SCHEMAS / OPERATOR_SCHEMAS[kind], documents, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_operator_schemas_refuse_a_misspelt_field(tmp_path: Path) -> None:
    scaled = json.loads(json.dumps(of_kind(rendered("base"), "ScaledObject")["classifier"]))
    scaled["spec"]["triggers"][0]["metadata"]["lagTreshold"] = scaled["spec"]["triggers"][0]["metadata"].pop(
        "lagThreshold"
    )
    topic = json.loads(json.dumps(next(iter(of_kind(rendered("base"), "KafkaTopic").values()))))
    topic["spec"]["partitions"] = 0
    assert check_jsonschema(SCHEMAS / OPERATOR_SCHEMAS["ScaledObject"], [scaled], tmp_path).returncode == 1
    assert check_jsonschema(SCHEMAS / OPERATOR_SCHEMAS["KafkaTopic"], [topic], tmp_path).returncode == 1


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_service_runs_as_operators_expect(kustomization: str) -> None:
    docs = rendered(kustomization)
    deployments, services, budgets = (of_kind(docs, kind) for kind in ("Deployment", "Service", "PodDisruptionBudget"))
    for name in SERVICES:
        pod = deployments[name]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["args"] == ["python", "-m", f"services.{name}"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert container["startupProbe"]["httpGet"]["path"] == "/health"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
        assert "memory" in container["resources"]["limits"], name
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert pod["automountServiceAccountToken"] is False
        assert [port["containerPort"] for port in container["ports"]] == [8080]
        assert services[name]["spec"]["selector"] == deployments[name]["spec"]["selector"]["matchLabels"]
        assert budgets[name]["spec"]["selector"] == deployments[name]["spec"]["selector"]
        # Settings by reference to the generated ConfigMap; secrets only by reference, never as values.
        (settings,) = container["envFrom"]
        assert settings["configMapRef"]["name"] in of_kind(docs, "ConfigMap")
        for variable in container["env"]:
            assert set(variable) == {"name", "valueFrom"}, f"{name}: {variable['name']} has a literal value"
            assert variable["valueFrom"]["secretKeyRef"]["name"] in SECRET_NAMES
    assert not of_kind(docs, "Secret"), "secrets are created in the cluster, never kept in the repository"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_scaling_is_on_lag_capped_at_the_partitions_and_reads_the_settings_broker(kustomization: str) -> None:
    from shared.contracts.topics import all_topics
    from shared.settings import DEFAULT_TAXONOMY
    from shared.taxonomy import load_taxonomy

    partitions = all_topics(load_taxonomy(DEFAULT_TAXONOMY))
    docs = rendered(kustomization)
    (settings,) = of_kind(docs, "ConfigMap").values()
    for name, scaled in of_kind(docs, "ScaledObject").items():
        spec = scaled["spec"]
        assert spec["scaleTargetRef"]["name"] in of_kind(docs, "Deployment")
        lag = [trigger["metadata"] for trigger in spec["triggers"] if trigger["type"] == "kafka"]
        assert lag, name
        for trigger in lag:
            # The service's group, or one of its own (the dispatcher's replies subscriber: cityline-dispatcher-replies).
            group = trigger["consumerGroup"]
            assert group == f"cityline-{name}" or group.startswith(f"cityline-{name}-")
            assert trigger["bootstrapServers"] == settings["data"]["KAFKA_BOOTSTRAP_SERVERS"]
            assert spec["maxReplicaCount"] <= partitions[trigger["topic"]], f"{name} scales past {trigger['topic']}"
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]


def test_production_keeps_three_copies_and_the_majority_and_dev_one() -> None:
    for kustomization, copies, insync, members in (("overlays/prod", 3, 2, 3), ("overlays/dev", 1, 1, 1)):
        docs = rendered(kustomization)
        topics = of_kind(docs, "KafkaTopic").values()
        assert {(t["spec"]["replicas"], t["spec"]["config"]["min.insync.replicas"]) for t in topics} == {
            (copies, insync)
        }
        (store,) = of_kind(docs, "MongoDBCommunity").values()
        assert store["spec"]["members"] == members
        assert store["spec"]["additionalConnectionStringConfig"]["w"] == "majority"
        assert store["spec"]["additionalConnectionStringConfig"]["journal"] is True
        assert store["spec"]["users"][0]["connectionStringSecretName"] == "cityline-mongodb-uri"
        (settings,) = of_kind(docs, "ConfigMap").values()
        assert settings["data"]["CITYLINE_KAFKA_ACKS"] == "all"
    assert {d["metadata"]["namespace"] for d in rendered("overlays/prod")} == {"cityline"}


def test_network_policies_select_the_services_that_exist() -> None:
    docs = rendered("base")
    deployments = set(of_kind(docs, "Deployment"))
    for name, policy in of_kind(docs, "NetworkPolicy").items():
        for expression in policy["spec"]["podSelector"].get("matchExpressions", []):
            assert set(expression["values"]) <= deployments, name
    deny = of_kind(docs, "NetworkPolicy")["cityline-deny-ingress"]["spec"]
    assert set(deny["podSelector"]["matchExpressions"][0]["values"]) == deployments
    assert "ingress" not in deny
