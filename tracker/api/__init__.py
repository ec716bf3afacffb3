"""The FastAPI application: management, lookups, reports, postbacks, ops."""
