"""infra/k8s: every manifest of the base and of the local overlay, rendered without kubectl
(tests/support/kustomize.py), validates against the Kubernetes schemas offline
(kubernetes-validate) and agrees with the code: KEDA resources have what KEDA requires and
name real things, env vars are settings, every pool has its workers, the termination graces
cover the shutdowns. tests/unit/test_k8s_manifests_fail.py shows each check can fail."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from contracts.keys import GROUP, Keys
from contracts.pools import load_pools
from edge.main import create_app
from edge.settings import Settings as EdgeSettings
from tests.support.k8s import (
    K8S,
    check_edges,
    check_env,
    check_schemas,
    check_secret_refs,
    check_selectors,
    check_workers,
    env,
    named,
    services,
)
from tests.support.keda import check_keda
from tests.support.kustomize import Resource, render
from worker.settings import Settings as WorkerSettings

RENDERINGS = {"base": K8S / "base", "local": K8S / "overlays" / "local"}
README = K8S / "README.md"


def edge_routes() -> set[str]:
    """The paths of the edge's OpenAPI document (its routes, the health routes among them)."""
    return set(create_app(EdgeSettings(api_keys="key:user")).openapi()["paths"])


@pytest.fixture(params=list(RENDERINGS))
def rendering(request: pytest.FixtureRequest) -> list[Resource]:
    return render(RENDERINGS[request.param])


def test_every_resource_validates_against_the_kubernetes_schemas(
    rendering: list[Resource],
) -> None:
    check_schemas(rendering)


def test_services_budgets_and_autoscalers_select_the_deployments(
    rendering: list[Resource],
) -> None:
    check_selectors(rendering)


def test_keda_resources_have_what_keda_requires_and_name_real_things(
    rendering: list[Resource],
) -> None:
    check_keda(rendering, edge_routes())


def test_every_env_var_is_a_setting_of_its_service_and_parses(rendering: list[Resource]) -> None:
    check_env(rendering)


def test_one_worker_deployment_per_pool_whose_grace_covers_the_hand_back(
    rendering: list[Resource],
) -> None:
    check_workers(rendering)


def test_edges_probe_the_health_routes_and_close_websockets_before_they_stop(
    rendering: list[Resource],
) -> None:
    check_edges(rendering, edge_routes())


def test_every_service_uses_one_key_layout(rendering: list[Resource]) -> None:
    """A process set to another shard count or prefix than the deployment's refuses to start
    (contracts.layout): the manifests set the same for all."""
    for name, default in (("RELAYLINE_SHARDS", Keys().shards), ("RELAYLINE_PREFIX", "rl:")):
        values = {str(env(c).get(name, default)) for _, _, c in services(rendering)}
        assert values == {str(default)}, f"{name}: {values} (the README's streams use {default})"


def test_the_local_overlay_ships_every_secret_key_and_its_scaler_token_is_an_api_key() -> None:
    resources = render(RENDERINGS["local"])
    check_secret_refs(resources)
    secret = named(resources, "Secret")["relayline"]["stringData"]
    assert secret["scaler-token"] in EdgeSettings(api_keys=secret["edge-api-keys"]).api_key_map()


def test_the_local_overlay_is_one_small_edge_and_at_most_two_workers_per_pool() -> None:
    base, local = render(RENDERINGS["base"]), render(RENDERINGS["local"])
    assert named(base, "Deployment")["relayline-edge"]["spec"]["replicas"] == 2
    assert named(local, "Deployment")["relayline-edge"]["spec"]["replicas"] == 1
    assert named(local, "HorizontalPodAutoscaler")["relayline-edge"]["spec"]["maxReplicas"] == 2
    scaled = named(local, "ScaledObject").values()
    assert [s["spec"]["maxReplicaCount"] for s in scaled] == [2] * len(scaled)
    assert "redis" in named(local, "Service") and "redis" not in named(base, "Service")


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("name", list(RENDERINGS))
def test_the_rendering_is_what_kubectl_kustomize_makes(name: str) -> None:
    made = subprocess.run(
        ["kubectl", "kustomize", str(RENDERINGS[name])],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    def key(resource: Resource) -> tuple[str, str]:
        return resource["kind"], resource["metadata"]["name"]

    theirs = [doc for doc in yaml.safe_load_all(made.stdout) if doc]
    assert sorted(render(RENDERINGS[name]), key=key) == sorted(theirs, key=key)


def check_readme(text: str) -> None:
    """The README's table of job streams (for a Redis-side KEDA trigger) is what
    `contracts.keys` builds for the default prefix and shard count: it cannot drift."""
    pools = load_pools(WorkerSettings.model_fields["pools_file"].default).pools
    expected = {stream for pool in pools for stream in Keys().job_streams(pool)}
    listed = set(re.findall(r"rl:\{\d+\}:jobs:[\w-]+", text))
    assert listed == expected, (
        f"README streams: missing {expected - listed}, extra {listed - expected}"
    )
    assert f"consumerGroup: {GROUP}" in text, f"README: the group is {GROUP}"


def test_the_readme_lists_each_pools_job_streams_as_keys_builds_them() -> None:
    check_readme(README.read_text())


def test_the_manifests_directory_holds_only_what_the_kustomizations_use() -> None:
    """A YAML file no kustomization names is never applied, nor tested."""
    used: set[Path] = set()
    for directory in RENDERINGS.values():
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
        used |= {(directory / r).resolve() for r in kustomization["resources"]}
        used |= {(directory / p["path"]).resolve() for p in kustomization.get("patches", [])}
        used.add((directory / "kustomization.yaml").resolve())
    files = {path.resolve() for path in K8S.rglob("*.yaml")}
    assert files - used == set()
