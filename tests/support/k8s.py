"""Checks of rendered Kubernetes manifests (infra/k8s) against the schemas and against the code.

Each `check_*` takes the resources of one rendering and raises AssertionError naming what is
wrong: `tests/unit/test_k8s_manifests.py` runs them on the real renderings, and on broken
copies to show each one can fail.
"""

import argparse
import contextlib
import inspect
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
from pydantic import AliasChoices, ValidationError
from pydantic_settings import BaseSettings

import relayline.cli
from contracts.models import ModelInfo, ModelList
from contracts.pools import load_pools
from edge.settings import Settings as EdgeSettings
from relayline.cli import EDGE_GRACEFUL_SHUTDOWN_SECONDS, parser
from tests.support.kustomize import Resource
from worker.settings import Settings as WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "infra" / "k8s"
KUBERNETES_VERSION = "1.30"
"""The oldest Kubernetes the manifests are checked against (kubernetes-validate bundles
1.25 to 1.37): every field used must exist there."""
KEDA_KINDS = frozenset({"ScaledObject", "TriggerAuthentication"})
HANDBACK_MARGIN_SECONDS = 10
"""A worker's termination grace past WORKER_SHUTDOWN_GRACE_SECONDS: to hand its unfinished
jobs back and close."""
EDGE_MARGIN_SECONDS = 5
"""An edge's termination grace past its preStop sleep and uvicorn's graceful shutdown."""
CLI_ENV = frozenset({"RELAYLINE_LOG_LEVEL"})
"""Variables the `relayline` command reads itself, outside any settings class."""
SETTINGS: dict[str, type[BaseSettings]] = {"edge": EdgeSettings, "worker": WorkerSettings}


def named(resources: list[Resource], kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def containers(deployment: Resource) -> list[dict[str, Any]]:
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    result: list[dict[str, Any]] = spec["containers"]
    return result


def env(container: dict[str, Any]) -> dict[str, str | None]:
    """The container's variables: their value, None for one taken from a Secret."""
    return {item["name"]: item.get("value") for item in container.get("env", [])}


def command(container: dict[str, Any]) -> argparse.Namespace | None:
    """The `relayline` command a container runs (None: not ours, e.g. Redis)."""
    words = container.get("command", [])
    if words[:1] != ["relayline"]:
        return None
    return parser().parse_args(words[1:])


def services(resources: list[Resource]) -> list[tuple[str, Resource, dict[str, Any]]]:
    """(relayline subcommand, Deployment, container) of every container running ours."""
    found = []
    for deployment in named(resources, "Deployment").values():
        for container in containers(deployment):
            if (args := command(container)) is not None:
                found.append((args.command, deployment, container))
    return found


def worker_pool(container: dict[str, Any]) -> str:
    args = command(container)
    assert args is not None
    pool = args.pool or env(container).get("WORKER_POOL")
    assert pool, f"worker container {container['name']} names no pool (WORKER_POOL)"
    return str(pool)


# --- Kubernetes --------------------------------------------------------------------------------


def check_schemas(resources: list[Resource]) -> None:
    """Every resource but KEDA's against the bundled schema of its kind (strict: no unknown
    field); a kind without a schema fails too."""
    for resource in resources:
        if resource["kind"] in KEDA_KINDS:
            continue
        where = f"{resource['kind']}/{resource['metadata'].get('name')}"
        try:
            kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            raise AssertionError(f"{where}: {error.message} at {list(error.path)}") from None
        except kubernetes_validate.SchemaNotFoundError as error:
            raise AssertionError(f"{where}: no Kubernetes schema ({error})") from None


def check_selectors(resources: list[Resource]) -> None:
    """Services and PodDisruptionBudgets select some Deployment's pods; HPAs and Deployments'
    selectors agree with what they target."""
    deployments = named(resources, "Deployment")
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in deployments.values()]
    for name, deployment in deployments.items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels[list(deployments).index(name)].items(), name
    selected = [
        (f"Service/{n}", r["spec"]["selector"]) for n, r in named(resources, "Service").items()
    ]
    selected += [
        (f"PodDisruptionBudget/{n}", r["spec"]["selector"]["matchLabels"])
        for n, r in named(resources, "PodDisruptionBudget").items()
    ]
    for where, selector in selected:
        assert any(selector.items() <= labels.items() for labels in pod_labels), (
            f"{where} selects no Deployment's pods: {selector}"
        )
    for name, hpa in named(resources, "HorizontalPodAutoscaler").items():
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in deployments, (
            f"HorizontalPodAutoscaler/{name} targets no Deployment: {target}"
        )


def check_secret_refs(resources: list[Resource]) -> None:
    """Every Secret key a container or a TriggerAuthentication needs exists (a rendering that
    ships its Secret: the local overlay)."""
    secrets = named(resources, "Secret")
    needed = [
        (item["valueFrom"]["secretKeyRef"], f"{d['metadata']['name']} {item['name']}")
        for d in named(resources, "Deployment").values()
        for c in containers(d)
        for item in c.get("env", [])
        if "secretKeyRef" in item.get("valueFrom", {})
    ]
    needed += [
        (ref, f"TriggerAuthentication/{name} {ref['parameter']}")
        for name, auth in named(resources, "TriggerAuthentication").items()
        for ref in auth["spec"]["secretTargetRef"]
    ]
    for ref, where in needed:
        if ref.get("optional"):
            continue
        secret = secrets.get(ref["name"])
        assert secret is not None, f"{where}: no Secret {ref['name']}"
        keys = {**secret.get("data", {}), **secret.get("stringData", {})}
        assert ref["key"] in keys, f"{where}: Secret {ref['name']} has no key {ref['key']}"


# --- the code ------------------------------------------------------------------------------------


def settings_names(settings: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice for choice in alias.choices if isinstance(choice, str)}
        else:
            names.add(alias if isinstance(alias, str) else f"{prefix}{name}".upper())
    return names


def check_env(resources: list[Resource]) -> None:
    """Every variable set for an edge or worker is one its settings (or the CLI) read, and the
    values set inline parse."""
    assert all(f'"{name}"' in inspect.getsource(relayline.cli) for name in CLI_ENV)
    for subcommand, deployment, container in services(resources):
        settings = SETTINGS[subcommand]
        variables = env(container)
        unknown = set(variables) - settings_names(settings) - CLI_ENV
        where = f"Deployment/{deployment['metadata']['name']}"
        assert not unknown, f"{where}: {sorted(unknown)} are not {subcommand} settings"
        inline = {name: value for name, value in variables.items() if value is not None}
        try:
            with _environment(inline):
                settings()
        except ValidationError as error:
            raise AssertionError(f"{where}: {subcommand} refuses its settings: {error}") from None


@contextlib.contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def check_workers(resources: list[Resource]) -> None:
    """One worker Deployment per pool of contracts/pools.toml, and no other; each worker's
    termination grace covers its shutdown grace and the hand-back."""
    pools = load_pools(WorkerSettings.model_fields["pools_file"].default).pools
    served: list[str] = []
    for subcommand, deployment, container in services(resources):
        if subcommand != "worker":
            continue
        pool = worker_pool(container)
        assert pool in pools, f"{deployment['metadata']['name']} serves {pool!r}: no such pool"
        served.append(pool)
        grace = float(
            env(container).get("WORKER_SHUTDOWN_GRACE_SECONDS")
            or WorkerSettings.model_fields["shutdown_grace_seconds"].default
        )
        termination = deployment["spec"]["template"]["spec"].get(
            "terminationGracePeriodSeconds", 30
        )
        assert termination >= grace + HANDBACK_MARGIN_SECONDS, (
            f"{deployment['metadata']['name']}: terminationGracePeriodSeconds {termination} "
            f"< WORKER_SHUTDOWN_GRACE_SECONDS {grace} + {HANDBACK_MARGIN_SECONDS}"
        )
    assert sorted(served) == sorted(pools), f"worker Deployments {served}, pools {list(pools)}"


def check_edges(resources: list[Resource], routes: set[str]) -> None:
    """Edges: probes on the real health routes, a preStop and a termination grace that let
    WebSockets close (1001) after the load balancer stopped sending."""
    edges = [(d, c) for command, d, c in services(resources) if command == "edge"]
    assert edges, "no edge Deployment"
    for deployment, container in edges:
        where = f"Deployment/{deployment['metadata']['name']}"
        ports = {port.get("name") for port in container.get("ports", [])}
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            get = container.get(probe, {}).get("httpGet", {})
            assert get.get("path") == path and path in routes, f"{where}: {probe} not on {path}"
            assert get.get("port") in ports, f"{where}: {probe} port {get.get('port')}"
        sleep = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
        assert sleep and sleep[0] == "sleep", f"{where}: no preStop sleep"
        needed = int(sleep[1]) + EDGE_GRACEFUL_SHUTDOWN_SECONDS + EDGE_MARGIN_SECONDS
        termination = deployment["spec"]["template"]["spec"].get(
            "terminationGracePeriodSeconds", 30
        )
        assert termination >= needed, f"{where}: terminationGracePeriodSeconds < {needed}"


def gjson_pool(value_location: str) -> str:
    """The pool a metrics-api `valueLocation` reads the `queued` of (GJSON
    `data.#(id=="<pool>").queued`, whose names must be the contract's)."""
    assert "data" in ModelList.model_fields
    assert {"id", "queued"} <= set(ModelInfo.model_fields)
    match = re.fullmatch(r'data\.#\(id=="(?P<pool>[^"]+)"\)\.queued', value_location)
    assert match, f'valueLocation {value_location!r} is not data.#(id=="<pool>").queued'
    return match.group("pool")
