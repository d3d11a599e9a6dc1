"""Relayline's edge: validates requests, writes jobs to Redis, fans job events out."""
