import httpx

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
