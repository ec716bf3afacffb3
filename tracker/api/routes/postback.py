"""Server-to-server conversion postbacks (thin: native form, token auth).

The postback is validated and authenticated here and put on the
conversions stream; the ingest worker attributes and stores it. The
conversion id is derived from (advertiser, goal, transaction id), so a
repeated postback answers with the same id and is stored once.
"""

from __future__ import annotations

import hmac
import time
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from redis.exceptions import RedisError

from schemas.api import PostbackAccepted
from schemas.events import ConversionEvent
from tracker.api.deps import ServicesDep
from tracker.api.errors import ApiProblem

router = APIRouter(tags=["postbacks"])

_NS = uuid.UUID("6f1b5c1e-3a52-4c53-9a43-0c4a3f7d2b10")


def conversion_id(advertiser_id: int, goal: str, txn_id: str) -> uuid.UUID:
    return uuid.uuid5(_NS, f"{advertiser_id}\x00{goal}\x00{txn_id}")


@router.get("/postback", response_model=PostbackAccepted, status_code=202)
async def postback(
    services: ServicesDep,
    advertiser_id: Annotated[int, Query(ge=1)],
    token: Annotated[str, Query(min_length=8, max_length=200)],
    txn_id: Annotated[str, Query(min_length=1, max_length=255)],
    click_id: uuid.UUID | None = None,
    goal: Annotated[str, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = "default",
    amount: Annotated[Decimal, Query(ge=0, max_digits=18, decimal_places=4)] = Decimal(0),
    currency: Annotated[str, Query(pattern=r"^[A-Z]{3}$")] = "USD",
    status: Literal["pending", "approved", "rejected"] = "approved",
) -> Any:
    stored = await services.pool.fetchval(
        "SELECT postback_token FROM advertisers WHERE id = $1", advertiser_id
    )
    if stored is None or not hmac.compare_digest(stored.encode(), token.encode()):
        raise ApiProblem(401, "unauthorized", "unknown advertiser or wrong postback token", "token")
    cid = conversion_id(advertiser_id, goal, txn_id)
    event = ConversionEvent(
        conversion_id=cid, ts=time.time(), advertiser_id=advertiser_id, click_id=click_id,  # type: ignore[arg-type]
        goal=goal, txn_id=txn_id, amount=str(amount), currency=currency, status=status,
    )  # fmt: skip
    streams = services.settings.conversion_streams()
    stream = streams[hash(txn_id) % len(streams)]
    try:
        await services.redis.xadd(stream, {"conversion": event.model_dump_json()})
    except (RedisError, OSError):
        raise ApiProblem(503, "unavailable", "postback not stored, please retry",
                         headers={"Retry-After": "5"}) from None  # fmt: skip
    return PostbackAccepted(conversion_id=cid)
