"""The app factory a server's worker processes import (docs/adr/0101).

uvicorn's workers (``--workers N``) and granian's start as fresh processes that
import the app by name, so what ``compose.serve`` knows (the server URLs, whether the
ingest worker runs inside) reaches them through the environment it hands down.
"""

from __future__ import annotations

import os
from typing import Any

from service.compose import WITH_WORKER_ENV, build_app
from tracker import logs
from tracker.settings import Settings


def app() -> Any:
    settings = Settings()
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("worker processes need TRACKER_DATABASE_URL and TRACKER_REDIS_URL")
    logs.configure(settings.log_level, settings.log_format)
    with_worker = os.environ.get(WITH_WORKER_ENV) == "1"
    return build_app(settings, settings.database_url, settings.redis_url, with_worker=with_worker)
