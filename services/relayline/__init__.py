"""The `relayline` command: run the whole stack, an edge, a worker, or an embedded Redis."""
