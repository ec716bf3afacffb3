"""The tracker's app for granian (``--factory``): the same app ``tracker serve`` runs."""

from __future__ import annotations

from typing import Any

from tracker.runtime.compose import build_app
from tracker.settings import Settings


def app() -> Any:
    settings = Settings()
    assert settings.database_url and settings.redis_url, (
        "set TRACKER_DATABASE_URL and TRACKER_REDIS_URL"
    )
    return build_app(settings, settings.database_url, settings.redis_url, with_worker=False)
