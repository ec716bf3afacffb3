"""API routers, one concern per module."""
