"""Outgoing postbacks to partners: outbox rows, SSRF-guarded delivery, retries."""
