"""Click-level traffic rules (tracker.domain.traffic_rules): admins manage them.

Partners and advertisers never read them: a rule names the addresses, sub-ids and
agents a fraud team watches for, which is what a fraudster would want to know.
Every ``tracker serve`` process applies a change within ``TRACKER_LINK_REFRESH_S``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from schemas.entities import Page
from schemas.traffic import TrafficRule, TrafficRuleIn, TrafficRulePatch
from tracker.api.deps import AdminRead, AdminWrite, IdPath, IdQuery, ServicesDep
from tracker.api.errors import ApiProblem
from tracker.api.routes.management.common import CursorQ, Limit, decode_cursor, found, page_of
from tracker.domain.client_ip import networks
from tracker.store import entities
from tracker.store import traffic_rules as store

router = APIRouter(prefix="/api/v1/traffic-rules", tags=["traffic quality"])


def _check_networks(cidrs: list[str] | None) -> list[str] | None:
    if cidrs is None:
        return None
    try:
        return [str(n) for n in networks(cidrs)]
    except ValueError as exc:
        raise ApiProblem(422, "invalid", f"not a CIDR network: {exc}", "ip_blocklist") from None


@router.post("", status_code=201, response_model=TrafficRule)
async def create_rule(body: TrafficRuleIn, services: ServicesDep, _: AdminWrite) -> Any:
    """A rule set for an offer, a partner, both, or (neither given) every click."""
    pool = services.pool
    if body.offer_id is not None and await entities.get_offer(pool, body.offer_id) is None:
        raise ApiProblem(422, "not_found", f"offer {body.offer_id} does not exist", "offer_id")
    if (
        body.affiliate_id is not None
        and await entities.get_affiliate(pool, body.affiliate_id) is None
    ):
        raise ApiProblem(422, "not_found", f"affiliate {body.affiliate_id} does not exist",
                         "affiliate_id")  # fmt: skip
    data = body.model_dump()
    data["ip_blocklist"] = _check_networks(body.ip_blocklist)
    return await store.create(pool, data)


@router.get("", response_model=Page[TrafficRule])
async def list_rules(services: ServicesDep, _: AdminRead, offer_id: IdQuery = None,
                     affiliate_id: IdQuery = None,
                     archived: Annotated[bool | None, Query()] = None,
                     cursor: CursorQ = None, limit: Limit = 100) -> Any:  # fmt: skip
    rows = await store.page(services.pool, after_id=decode_cursor(cursor), limit=limit,
                            offer_id=offer_id, affiliate_id=affiliate_id, archived=archived)  # fmt: skip
    return page_of(rows, limit)


@router.get("/{rule_id}", response_model=TrafficRule)
async def get_rule(rule_id: IdPath, services: ServicesDep, _: AdminRead) -> Any:
    return found(await store.get(services.pool, rule_id), "traffic rule", rule_id)


@router.patch("/{rule_id}", response_model=TrafficRule)
async def update_rule(rule_id: IdPath, body: TrafficRulePatch, services: ServicesDep,
                      _: AdminWrite) -> Any:  # fmt: skip
    row = found(await store.get(services.pool, rule_id), "traffic rule", rule_id)
    if row["archived_at"] is not None:
        raise ApiProblem(409, "archived", f"traffic rule {rule_id} is archived", "archived_at")
    changes = body.model_dump(exclude_unset=True)
    if "ip_blocklist" in changes:
        changes["ip_blocklist"] = _check_networks(body.ip_blocklist)
    updated = await store.update(services.pool, rule_id, changes)
    if updated is None:  # archived meanwhile
        raise ApiProblem(409, "archived", f"traffic rule {rule_id} is archived", "archived_at")
    return updated


@router.post("/{rule_id}/archive", response_model=TrafficRule)
async def archive_rule(rule_id: IdPath, services: ServicesDep, _: AdminWrite) -> Any:
    """Stop applying the rule set (every process within the refresh interval); kept."""
    return found(await store.archive(services.pool, rule_id), "traffic rule", rule_id)
