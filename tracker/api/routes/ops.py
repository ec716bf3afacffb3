"""Health, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field
from starlette.responses import PlainTextResponse, Response

from tracker import exposition
from tracker.api.deps import ServicesDep
from tracker.api.json import JSON

router = APIRouter(tags=["ops"])


class Ready(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(description="postgres and redis: ok, or down: <error>")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=Ready,
            responses={503: {"model": Ready, "description": "Postgres or Redis is down"}})  # fmt: skip
async def readyz(services: ServicesDep) -> Any:
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(services.pool.fetchval("SELECT 1"), 2)
        checks["postgres"] = "ok"
    except Exception as exc:
        checks["postgres"] = f"down: {type(exc).__name__}"
    try:
        await asyncio.wait_for(services.redis.ping(), 2)
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"down: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSON({"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503)


_TEXT = {"text/plain": {"schema": {"type": "string"}}}


@router.get("/metrics", response_class=PlainTextResponse,
            responses={200: {"content": _TEXT, "description": "Prometheus text format"}})  # fmt: skip
async def metrics_endpoint() -> Response:
    """Prometheus text format; with several processes, the sum over all of them."""
    return Response(exposition.scrape(), media_type=CONTENT_TYPE_LATEST)
