"""Prometheus metrics of the edge (exposed at /metrics)."""

from prometheus_client import Counter, Gauge

JOBS_SUBMITTED = Counter("relayline_jobs_submitted_total", "Jobs accepted", ["model"])
CLIENTS = Gauge("relayline_clients", "Open WebSocket and SSE clients", ["transport"])
SLOW_CLIENTS = Counter("relayline_slow_clients_total", "Clients cut off for not reading")
EVENTS_SENT = Counter("relayline_events_sent_total", "Events sent to clients", ["transport"])
FANOUT_READS = Counter(
    "relayline_fanout_reads_total", "Redis reads of the fan-out reader that returned events"
)
