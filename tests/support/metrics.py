import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.stack import Edge


def metric(edge: Edge, name: str) -> float:
    """The sum of every sample of a Prometheus metric of the edge."""
    text = httpx.get(f"{edge.url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            head, _, value = line.rpartition(" ")
            if head == name or head.startswith(name + "{"):
                total += float(value)
    return total


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(url: str) -> Samples:
    """Every sample a Prometheus endpoint serves, by name and labels."""
    text = httpx.get(url, timeout=10).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """One sample of `samples`' answer (0 when it is not there)."""
    return found.get((name, frozenset(labels.items())), 0.0)
