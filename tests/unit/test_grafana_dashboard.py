"""infra/grafana/relayline.json queries only metrics the edge and the workers export, under
their exported names (a renamed metric would leave a panel silently empty)."""

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import edge.loads
import edge.metrics
import worker.metrics

DASHBOARD = Path(__file__).parents[2] / "infra" / "grafana" / "relayline.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported() -> set[str]:
    """The sample names of every Relayline metric, as Prometheus scrapes them."""
    assert edge.loads and edge.metrics and worker.metrics  # imported: they register theirs
    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("relayline_"):
            names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


def queried(dashboard: dict[str, object]) -> set[str]:
    text = json.dumps(dashboard)
    return set(re.findall(r"relayline_[a-z_]+", text))


def test_every_metric_the_dashboard_queries_is_exported() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    names = exported()
    assert {"relayline_worker_jobs_total", "relayline_pool_jobs"} <= names
    assert queried(dashboard) - names == set()
    assert len(dashboard["panels"]) >= 8
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"] and all(target["expr"] for target in panel["targets"])
    # and the check sees a query of a metric nobody exports
    dashboard["panels"][0]["targets"][0]["expr"] = "rate(relayline_no_such_thing_total[5m])"
    assert queried(dashboard) - names == {"relayline_no_such_thing_total"}
