"""The app factories granian imports in each of its worker processes.

granian starts its workers as fresh processes that import the app by name,
so what ``compose.serve`` knows (the server URLs, whether the ingest worker
runs inside) reaches them through the environment it hands down.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from service.compose import WITH_WORKER_ENV, build_app
from tracker.settings import Settings


def app() -> Any:
    settings = Settings()
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("granian workers need TRACKER_DATABASE_URL and TRACKER_REDIS_URL")
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with_worker = os.environ.get(WITH_WORKER_ENV) == "1"
    return build_app(settings, settings.database_url, settings.redis_url, with_worker=with_worker)
