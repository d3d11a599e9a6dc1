"""Each check of tests/unit/test_k8s_manifests.py fails on a broken copy of the manifests:
one change each, to a rendering of the base or the local overlay, or to a copy of a file."""

import copy
import functools
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.k8s import (
    K8S,
    check_edges,
    check_env,
    check_schemas,
    check_secret_refs,
    check_selectors,
    check_workers,
    containers,
    named,
)
from tests.support.keda import check_keda
from tests.support.kustomize import Resource, apply_operation, render
from tests.unit.test_k8s_manifests import README, check_readme, edge_routes

Change = Callable[[list[Resource]], None]


@functools.cache
def rendered(name: str) -> list[Resource]:
    return render(K8S / "base" if name == "base" else K8S / "overlays" / "local")


def the(kind: str, name: str) -> Callable[[list[Resource]], Resource]:
    return lambda resources: named(resources, kind)[name]


EDGE = the("Deployment", "relayline-edge")
EMBED = the("Deployment", "relayline-worker-embed")
CHAT_SCALER = the("ScaledObject", "relayline-worker-chat")
EMBED_SCALER = the("ScaledObject", "relayline-worker-embed")


def at(select: Callable[[list[Resource]], Resource], path: str, value: Any = None) -> Change:
    """Set (or, for value None, remove) the field at a JSON pointer of one resource."""
    op = "remove" if value is None else "add"
    return lambda resources: apply_operation(
        select(resources), {"op": op, "path": path, "value": value}
    )


def env_of(select: Callable[[list[Resource]], Resource], name: str, value: str) -> Change:
    def change(resources: list[Resource]) -> None:
        [container] = containers(select(resources))
        items = [item for item in container["env"] if item["name"] != name]
        container["env"] = [*items, {"name": name, "value": value}]

    return change


def drop(kind: str, name: str) -> Change:
    def change(resources: list[Resource]) -> None:
        resources[:] = [r for r in resources if (r["kind"], r["metadata"]["name"]) != (kind, name)]

    return change


def keda(resources: list[Resource]) -> None:
    check_keda(resources, edge_routes())


def edges(resources: list[Resource]) -> None:
    check_edges(resources, edge_routes())


C0 = "/spec/template/spec/containers/0"
T0 = "/spec/triggers/0"
BROKEN: list[tuple[str, str, Change, Callable[[list[Resource]], None], str]] = [
    (
        "a port that is no number",
        "base",
        at(EDGE, f"{C0}/ports/0/containerPort", "http"),
        check_schemas,
        "Deployment/relayline-edge",
    ),
    (
        "an unknown field",
        "base",
        at(EDGE, f"{C0}/imagePullPolice", "Always"),
        check_schemas,
        "imagePullPolice",
    ),
    (
        "a kind without a schema",
        "base",
        lambda r: r.append({"apiVersion": "v1", "kind": "Servce", "metadata": {"name": "x"}}),
        check_schemas,
        "no Kubernetes schema",
    ),
    (
        "a Service selecting nothing",
        "base",
        at(
            the("Service", "relayline-edge"), "/spec/selector/app.kubernetes.io~1component", "edges"
        ),
        check_selectors,
        "selects no Deployment",
    ),
    (
        "an HPA of no Deployment",
        "base",
        at(the("HorizontalPodAutoscaler", "relayline-edge"), "/spec/scaleTargetRef/name", "edge"),
        check_selectors,
        "targets no Deployment",
    ),
    (
        "a ScaledObject of no Deployment",
        "base",
        at(EMBED_SCALER, "/spec/scaleTargetRef/name", "relayline-worker-embeds"),
        keda,
        "no Deployment",
    ),
    (
        "another pool's queue",
        "base",
        at(EMBED_SCALER, f"{T0}/metadata/valueLocation", 'data.#(id=="chat").queued'),
        keda,
        "not the pool embed's",
    ),
    (
        "a field the contract lacks",
        "base",
        at(EMBED_SCALER, f"{T0}/metadata/valueLocation", 'data.#(id=="embed").waiting'),
        keda,
        "is not data.",
    ),
    (
        "a target not a multiple of the concurrency",
        "base",
        at(CHAT_SCALER, f"{T0}/metadata/targetValue", "3"),
        keda,
        "not a multiple",
    ),
    (
        "a number where KEDA wants a string",
        "base",
        at(CHAT_SCALER, f"{T0}/metadata/targetValue", 4),
        keda,
        "are strings",
    ),
    (
        "an edge in another namespace",
        "base",
        at(
            CHAT_SCALER,
            f"{T0}/metadata/url",
            "http://relayline-edge.default.svc.cluster.local/v1/models",
        ),
        keda,
        "no Service",
    ),
    (
        "a route the edge lacks",
        "base",
        at(
            CHAT_SCALER,
            f"{T0}/metadata/url",
            "http://relayline-edge.relayline.svc.cluster.local/v1/model",
        ),
        keda,
        "url",
    ),
    (
        "no target value",
        "base",
        at(CHAT_SCALER, f"{T0}/metadata/targetValue"),
        keda,
        "needs targetValue",
    ),
    (
        "bearer without its authentication",
        "base",
        at(CHAT_SCALER, f"{T0}/authenticationRef"),
        keda,
        "without its TriggerAuthentication",
    ),
    (
        "an unchecked trigger type",
        "base",
        at(CHAT_SCALER, f"{T0}/type", "redis-streams"),
        keda,
        "no check for trigger type",
    ),
    (
        "a fallback with a Value metric",
        "base",
        at(CHAT_SCALER, f"{T0}/metricType", "Value"),
        keda,
        "fallback",
    ),
    (
        "min above max",
        "base",
        at(CHAT_SCALER, "/spec/minReplicaCount", 20),
        keda,
        "minReplicaCount",
    ),
    (
        "a worker without a ScaledObject",
        "base",
        drop("ScaledObject", "relayline-worker-chat"),
        keda,
        "without a ScaledObject",
    ),
    (
        "an env var no setting reads",
        "base",
        env_of(EDGE, "EDGE_ALLOWED_HOST", "x"),
        check_env,
        "EDGE_ALLOWED_HOST",
    ),
    (
        "an edge setting on a worker",
        "base",
        env_of(EMBED, "EDGE_MAX_STREAMS", "10"),
        check_env,
        "EDGE_MAX_STREAMS",
    ),
    (
        "a value the service refuses",
        "base",
        env_of(EMBED, "WORKER_SHUTDOWN_GRACE_SECONDS", "ten"),
        check_env,
        "refuses its settings",
    ),
    (
        "a pool that does not exist",
        "base",
        env_of(EMBED, "WORKER_POOL", "embeds"),
        check_workers,
        "no such pool",
    ),
    (
        "a pool without workers",
        "base",
        drop("Deployment", "relayline-worker-chat"),
        check_workers,
        "worker Deployments",
    ),
    (
        "a grace too short for the hand-back",
        "base",
        at(EMBED, "/spec/template/spec/terminationGracePeriodSeconds", 35),
        check_workers,
        "terminationGracePeriodSeconds 35",
    ),
    (
        "a readiness probe on no route",
        "base",
        at(EDGE, f"{C0}/readinessProbe/httpGet/path", "/ready"),
        edges,
        "readinessProbe",
    ),
    (
        "a probe on no port",
        "base",
        at(EDGE, f"{C0}/livenessProbe/httpGet/port", "web"),
        edges,
        "livenessProbe port",
    ),
    ("no preStop", "base", at(EDGE, f"{C0}/lifecycle"), edges, "no preStop"),
    (
        "an edge grace shorter than its stop",
        "base",
        at(EDGE, "/spec/template/spec/terminationGracePeriodSeconds", 15),
        edges,
        "terminationGracePeriodSeconds",
    ),
    (
        "a Secret without the scaler's token",
        "local",
        at(the("Secret", "relayline"), "/stringData/scaler-token"),
        check_secret_refs,
        "no key scaler-token",
    ),
]


@pytest.mark.parametrize(
    ("rendering", "change", "check", "message"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_a_broken_copy_fails_its_check(
    rendering: str, change: Change, check: Callable[[list[Resource]], None], message: str
) -> None:
    resources = copy.deepcopy(rendered(rendering))
    check(resources)  # the real rendering passes
    change(resources)
    with pytest.raises(AssertionError, match=message.replace("(", r"\(").replace(".", r"\.")):
        check(resources)


def test_a_patch_on_a_field_that_does_not_exist_fails_the_rendering(tmp_path: Path) -> None:
    copied = tmp_path / "k8s"
    shutil.copytree(K8S, copied)
    patch = copied / "overlays" / "local" / "patches" / "edge.yaml"
    patch.write_text(patch.read_text().replace("/spec/replicas", "/spec/replica"))
    with pytest.raises(AssertionError, match="no such field"):
        render(copied / "overlays" / "local")


def test_a_kustomize_feature_the_renderer_lacks_fails_the_rendering(tmp_path: Path) -> None:
    copied = tmp_path / "k8s"
    shutil.copytree(K8S, copied)
    kustomization = copied / "overlays" / "local" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "commonLabels:\n  team: ai\n")
    with pytest.raises(AssertionError, match="commonLabels"):
        render(copied / "overlays" / "local")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("rl:{43}:jobs:chat", "rl:{44}:jobs:chat", "README streams"),
        ("consumerGroup: workers", "consumerGroup: worker", "the group"),
    ],
)
def test_a_readme_whose_streams_drifted_fails(old: str, new: str, message: str) -> None:
    text = README.read_text()
    check_readme(text)
    assert old in text
    with pytest.raises(AssertionError, match=message):
        check_readme(text.replace(old, new))
