"""`make bench`: Relayline's benchmarks against real Redis and real edge and worker processes.

Run with `.venv/bin/python -m tests.bench`. It measures submit-to-end latency, sustained
jobs/s and token fan-out, prints a table and rewrites its own section of docs/benchmarks.md.
"""
