"""Render a kustomization without kubectl: the few features infra/k8s uses, applied explicitly.

A kustomization may name `resources` (YAML files, or directories holding a kustomization),
`patches` (JSON 6902 operations, each with a `target` kind and name) and a `namespace`. Any
other field fails the rendering, so an overlay that starts using another kustomize feature
fails the test until this module learns it (and `test_k8s_manifests` compares the result with
`kubectl kustomize` wherever kubectl is installed).
"""

import copy
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

KNOWN_FIELDS = frozenset({"apiVersion", "kind", "namespace", "resources", "patches"})
CLUSTER_SCOPED = frozenset({"Namespace"})


def render(directory: Path) -> list[Resource]:
    """The resources `kubectl kustomize <directory>` outputs, in file order."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KNOWN_FIELDS
    assert not unknown, f"{directory}: kustomization fields this renderer lacks: {unknown}"
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            resources += render(path)
        else:
            resources += [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    for patch in kustomization.get("patches", []):
        _patch(directory, patch, resources)
    if namespace := kustomization.get("namespace"):
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = namespace
    return resources


def _patch(directory: Path, patch: dict[str, Any], resources: list[Resource]) -> None:
    assert set(patch) == {"target", "path"}, f"{directory}: only file patches with a target"
    target = patch["target"]
    assert set(target) == {"kind", "name"}, f"{directory}: a target names a kind and a name"
    operations = yaml.safe_load((directory / patch["path"]).read_text())
    assert isinstance(operations, list), f"{patch['path']}: not a JSON 6902 patch"
    matched = [
        resource
        for resource in resources
        if resource["kind"] == target["kind"] and resource["metadata"]["name"] == target["name"]
    ]
    assert matched, f"{patch['path']}: its target {target} matches no resource"
    for resource in matched:
        for operation in operations:
            apply_operation(resource, operation)


def apply_operation(document: Resource, operation: dict[str, Any]) -> None:
    """One JSON 6902 operation (`add`, `replace`, `remove`), in place; a path that does not
    exist (for `replace`, `remove`) fails, as kustomize fails."""
    op, path = operation["op"], operation["path"]
    assert op in ("add", "replace", "remove"), f"unsupported JSON patch op {op!r}"
    *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]]
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    value = copy.deepcopy(operation.get("value"))
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if op == "add":
            node.insert(index, value)
        elif op == "replace":
            node[index] = value
        else:
            del node[index]
        return
    assert op == "add" or last in node, f"JSON patch {op} {path}: no such field"
    if op == "remove":
        del node[last]
    else:
        node[last] = value
