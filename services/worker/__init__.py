"""Relayline's model workers: one pool per process, one engine each, jobs from Redis Streams."""
