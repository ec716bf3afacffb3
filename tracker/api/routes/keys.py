"""API keys through the API (admin keys): create (shown once), list, revoke."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from schemas.keys import Key, KeyIn, KeyPage, NewKeyOut
from tracker.api.deps import AdminRead, AdminWrite, IdPath, ServicesDep
from tracker.api.errors import ApiProblem
from tracker.api.routes.management.common import CursorQ, decode_cursor, page_of
from tracker.api.views import show
from tracker.store import entities, keys

router = APIRouter(prefix="/api/v1", tags=["keys"])


@router.post("/keys", status_code=201, response_model=NewKeyOut, response_model_exclude_none=True)
async def create_key(body: KeyIn, services: ServicesDep, who: AdminWrite) -> Any:
    if (
        body.advertiser_id is not None
        and await entities.get_advertiser(services.pool, body.advertiser_id) is None
    ):
        raise ApiProblem(
            422, "not_found", f"advertiser {body.advertiser_id} does not exist", "advertiser_id"
        )
    if (
        body.affiliate_id is not None
        and await entities.get_affiliate(services.pool, body.affiliate_id) is None
    ):
        raise ApiProblem(
            422, "not_found", f"affiliate {body.affiliate_id} does not exist", "affiliate_id"
        )
    new = await keys.create_key(
        services.pool, body.role, scopes=tuple(dict.fromkeys(body.scopes)),
        advertiser_id=body.advertiser_id, affiliate_id=body.affiliate_id, label=body.label,
        rate_limit_per_min=body.rate_limit_per_min,
    )  # fmt: skip
    row = await services.pool.fetchrow("SELECT * FROM api_keys WHERE prefix = $1", new.prefix)
    assert row is not None
    return show("NewKeyOut", who, {**dict(row), "key": new.token}, created=True)


@router.get("/keys", response_model=KeyPage, response_model_exclude_none=True)
async def list_keys(
    services: ServicesDep, _: AdminRead, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: CursorQ = None,
) -> Any:  # fmt: skip
    items = await keys.list_keys(services.pool, limit, decode_cursor(cursor))
    return KeyPage.model_validate(page_of(items, limit))


@router.get("/keys/{key_id}", response_model=Key, response_model_exclude_none=True)
async def get_key(key_id: IdPath, services: ServicesDep, _: AdminRead) -> Any:
    rows = await keys.list_keys(services.pool, 1, key_id - 1)
    if not rows or rows[0]["id"] != key_id:
        raise ApiProblem(404, "not_found", f"key {key_id} not found", "key_id")
    return rows[0]


@router.delete("/keys/{key_id}", status_code=204)
async def revoke_key(key_id: IdPath, services: ServicesDep, who: AdminWrite) -> None:
    if key_id == who.key_id:  # a key revoking itself would lock its holder out by mistake
        raise ApiProblem(409, "conflict", "a key cannot revoke itself; use another admin key",
                         "key_id")  # fmt: skip
    services.key_cache.clear()  # this process at once; the others within api_key_cache_s
    if not await keys.revoke(services.pool, key_id):
        raise ApiProblem(404, "not_found", f"active key {key_id} not found", "key_id")
