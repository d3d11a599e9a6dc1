"""Checks of KEDA resources (ScaledObject, TriggerAuthentication) in rendered manifests: the
fields KEDA requires, and that what they name exists (a Deployment, a Service and route of the
edge, a pool, a TriggerAuthentication). kubernetes-validate has no schema for KEDA's kinds."""

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from contracts.pools import load_pools
from tests.support.k8s import (
    containers,
    env,
    gjson_pool,
    named,
    services,
    worker_pool,
)
from tests.support.kustomize import Resource
from worker.settings import Settings as WorkerSettings

KEDA_API = "keda.sh/v1alpha1"
AUTH_MODES = {"apiKey", "basic", "tls", "bearer"}
METRIC_TYPES = {"AverageValue", "Value", "Utilization"}

Trigger = dict[str, Any]


def check_keda(resources: list[Resource], routes: set[str]) -> None:
    auths = named(resources, "TriggerAuthentication")
    for name, auth in auths.items():
        assert auth["apiVersion"] == KEDA_API, f"TriggerAuthentication/{name}: apiVersion"
        refs = auth["spec"].get("secretTargetRef")
        assert refs and all({"parameter", "name", "key"} <= set(ref) for ref in refs), (
            f"TriggerAuthentication/{name}: secretTargetRef needs parameter, name and key"
        )
    deployments = named(resources, "Deployment")
    targets: list[str] = []
    for name, scaled in named(resources, "ScaledObject").items():
        where = f"ScaledObject/{name}"
        assert scaled["apiVersion"] == KEDA_API, f"{where}: apiVersion"
        spec = scaled["spec"]
        target = spec.get("scaleTargetRef", {})
        assert target.get("kind", "Deployment") == "Deployment", f"{where}: scales a Deployment"
        assert target.get("name") in deployments, f"{where}: no Deployment {target.get('name')}"
        targets.append(target["name"])
        low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
        assert isinstance(low, int) and isinstance(high, int) and 0 <= low <= high and high >= 1, (
            f"{where}: minReplicaCount {low}, maxReplicaCount {high}"
        )
        triggers = spec.get("triggers")
        assert triggers, f"{where}: no triggers"
        for trigger in triggers:
            _check_trigger(where, trigger, deployments[target["name"]], resources, routes)
        if fallback := spec.get("fallback"):
            assert fallback.get("failureThreshold", 0) >= 1 and fallback.get("replicas", 0) >= 1
            assert all(t.get("metricType", "AverageValue") == "AverageValue" for t in triggers), (
                f"{where}: KEDA takes a fallback only with AverageValue triggers"
            )
    assert len(targets) == len(set(targets)), f"two ScaledObjects scale one Deployment: {targets}"
    workers = {
        d["metadata"]["name"] for command, d, _ in services(resources) if command == "worker"
    }
    assert workers <= set(targets), f"worker Deployments without a ScaledObject: {workers}"


def _check_trigger(
    where: str, trigger: Trigger, deployment: Resource, resources: list[Resource], routes: set[str]
) -> None:
    kind = trigger.get("type")
    assert kind in TRIGGERS, f"{where}: no check for trigger type {kind!r}: add one"
    metadata = trigger.get("metadata", {})
    assert all(isinstance(value, str) for value in metadata.values()), (
        f"{where}: KEDA trigger metadata values are strings: {metadata}"
    )
    assert trigger.get("metricType", "AverageValue") in METRIC_TYPES, f"{where}: metricType"
    mode = metadata.get("authMode")
    if mode is not None:
        assert mode in AUTH_MODES, f"{where}: authMode {mode!r}"
        auth = named(resources, "TriggerAuthentication").get(
            trigger.get("authenticationRef", {}).get("name", "")
        )
        assert auth is not None, f"{where}: authMode {mode} without its TriggerAuthentication"
        if mode == "bearer":
            parameters = {ref["parameter"] for ref in auth["spec"]["secretTargetRef"]}
            assert "token" in parameters, f"{where}: bearer needs a 'token' parameter"
    TRIGGERS[kind](where, metadata, deployment, resources, routes)


def _metrics_api(
    where: str,
    metadata: dict[str, str],
    deployment: Resource,
    resources: list[Resource],
    routes: set[str],
) -> None:
    """The edge's `GET /v1/models`, by its Service's cluster name: the pool's `queued`."""
    for field in ("url", "valueLocation", "targetValue"):
        assert field in metadata, f"{where}: metrics-api needs {field}"
    url = urlsplit(metadata["url"])
    assert url.scheme == "http" and url.path in routes, f"{where}: url {metadata['url']}"
    hosts = {
        f"{name}.{service['metadata'].get('namespace', 'default')}.svc.cluster.local": service
        for name, service in named(resources, "Service").items()
    }
    service = hosts.get(url.hostname or "")
    assert service is not None, f"{where}: {url.hostname} is no Service of this rendering"
    ports = {port["port"] for port in service["spec"]["ports"]}
    assert (url.port or 80) in ports, f"{where}: the Service has no port {url.port or 80}"
    for command, _, container in services(resources):
        if command == "edge":
            allowed = (env(container).get("EDGE_ALLOWED_HOSTS") or "").split(",")
            assert url.hostname in allowed, f"{where}: edges refuse the host {url.hostname}"
    [container] = containers(deployment)
    pool = worker_pool(container)
    assert gjson_pool(metadata["valueLocation"]) == pool, f"{where}: not the pool {pool}'s"
    concurrency = int(
        env(container).get("WORKER_CONCURRENCY")
        or load_pools(WorkerSettings.model_fields["pools_file"].default).pools[pool].concurrency
    )
    target = float(metadata["targetValue"])
    assert target >= concurrency and (target / concurrency).is_integer(), (
        f"{where}: targetValue {target} is not a multiple of the concurrency {concurrency}"
    )
    assert float(metadata.get("activationTargetValue", "0")) >= 0, f"{where}: activation"


TRIGGERS: dict[str, Callable[[str, dict[str, str], Resource, list[Resource], set[str]], None]] = {
    "metrics-api": _metrics_api
}
