"""Smart links and their routes (issue 20) in Postgres.

A smart link is a ``tracking_links`` row of kind ``smart`` (no offer of its own: same
codes, same ``/c/{code}``, same partner, same reports by link); its routes are rows of
``link_routes``, archived, never deleted (clicks name them). Every change to a route
moves its link's ``updated_at``, so the redirect's refresher takes the new routes
within ``link_refresh_s``. Changes to the graph of routes between smart links run under
one advisory lock, so two requests cannot close a loop between them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import asyncpg
import orjson

from schemas.routing import MAX_NESTING, MAX_ROUTES, RouteIn, SmartLinkIn
from schemas.targeting import targeting_json
from tracker.store.entities import Conflict, Missing, new_link_code

Row = dict[str, Any]
_LINK_COLS = ("id, code, affiliate_id, name, status, fallback_url, sticky_hours, created_at, "
              "updated_at")  # fmt: skip
_ROUTE_COLS = ("id, link_id, offer_id, target_link_id AS smart_link_id, priority, weight, "
               "targeting::text AS targeting, daily_click_cap, total_click_cap, status, "
               "created_at, updated_at")  # fmt: skip
_GRAPH_LOCK = 2_000_020  # pg_advisory_xact_lock key of route-graph changes
_TOUCH = "UPDATE tracking_links SET updated_at = now() WHERE id = $1"
_DOWN = """
WITH RECURSIVE down(id, depth, path) AS (
    SELECT $1::bigint, 1, ARRAY[$1::bigint]
    UNION ALL
    SELECT r.target_link_id, d.depth + 1, d.path || r.target_link_id
      FROM down d JOIN link_routes r ON r.link_id = d.id
     WHERE r.target_link_id IS NOT NULL AND r.status <> 'archived'
       AND NOT r.target_link_id = ANY(d.path) AND d.depth < 16
)
SELECT max(depth), bool_or($2::bigint = ANY(path)) FROM down"""
_UP = """
WITH RECURSIVE up(id, depth, path) AS (
    SELECT $1::bigint, 1, ARRAY[$1::bigint]
    UNION ALL
    SELECT r.link_id, u.depth + 1, u.path || r.link_id
      FROM up u JOIN link_routes r ON r.target_link_id = u.id
     WHERE r.status <> 'archived' AND NOT r.link_id = ANY(u.path) AND u.depth < 16
)
SELECT max(depth) FROM up"""


class Refused(Exception):
    """A rule of smart links the request breaks (a loop, a limit): 422 naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def _route_row(record: asyncpg.Record) -> Row:
    row = dict(record)
    row["targeting"] = orjson.loads(row["targeting"]) if row["targeting"] else None
    return row


async def _routes_of(conn: asyncpg.Pool | asyncpg.Connection,
                     link_ids: Iterable[int]) -> dict[int, list[Row]]:  # fmt: skip
    rows = await conn.fetch(
        f"""SELECT {_ROUTE_COLS} FROM link_routes WHERE link_id = ANY($1::bigint[])
             ORDER BY link_id, status = 'archived', priority, id""",
        list(link_ids),
    )  # fmt: skip
    out: dict[int, list[Row]] = {}
    for r in rows:
        out.setdefault(r["link_id"], []).append(_route_row(r))
    return out


async def with_routes(pool: asyncpg.Pool, links: list[Row]) -> list[Row]:
    """Smart link rows with their routes (every route, archived ones last)."""
    routes = await _routes_of(pool, [r["id"] for r in links])
    return [{**r, "routes": routes.get(r["id"], [])} for r in links]


async def get(pool: asyncpg.Pool, link_id: int) -> Row | None:
    row = await pool.fetchrow(
        f"SELECT {_LINK_COLS} FROM tracking_links WHERE id = $1 AND kind = 'smart'", link_id
    )
    return (await with_routes(pool, [dict(row)]))[0] if row else None


async def _check_route(conn: asyncpg.Connection, link_id: int | None, affiliate_id: int,
                       route: RouteIn, field: str) -> None:  # fmt: skip
    """(``field``: where the route is in the request, as a prefix of its fields' names.)
    The route's offer or smart link exists and may be routed to (same partner, no loop,
    chains of at most MAX_NESTING smart links)."""
    if route.offer_id is not None:
        where = f"{field}offer_id"
        status = await conn.fetchval("SELECT status FROM offers WHERE id = $1", route.offer_id)
        if status is None:
            raise Missing(where, f"offer {route.offer_id} does not exist")
        if status == "archived":
            raise Refused(where, f"offer {route.offer_id} is archived")
        return
    target = route.smart_link_id
    row = await conn.fetchrow(
        "SELECT affiliate_id, status FROM tracking_links WHERE id = $1 AND kind = 'smart'",
        target,
    )  # fmt: skip
    where = f"{field}smart_link_id"
    if row is None:
        raise Missing(where, f"smart link {target} does not exist")
    if row["status"] == "archived":
        raise Refused(where, f"smart link {target} is archived")
    if row["affiliate_id"] != affiliate_id:
        raise Refused(where, f"smart link {target} is another partner's")
    below, loops = await conn.fetchrow(_DOWN, target, link_id or 0)
    if link_id is not None and (target == link_id or loops):
        raise Refused(where, f"smart link {target} leads back to this one: routes may not loop")
    above = await conn.fetchval(_UP, link_id) if link_id is not None else 1
    if above + below > MAX_NESTING:
        raise Refused(where, f"chains of smart links are at most {MAX_NESTING} long; this route "
                      f"would make one of {above + below}")  # fmt: skip


async def _insert_route(conn: asyncpg.Connection, link_id: int, route: RouteIn) -> Row:
    row = await conn.fetchrow(
        f"""INSERT INTO link_routes (link_id, offer_id, target_link_id, priority, weight,
                                     targeting, daily_click_cap, total_click_cap, status)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {_ROUTE_COLS}""",
        link_id, route.offer_id, route.smart_link_id, route.priority, route.weight,
        _jsonb(targeting_json(route.targeting)), route.daily_click_cap, route.total_click_cap,
        route.status,
    )  # fmt: skip
    return _route_row(row)


def _jsonb(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


async def create(pool: asyncpg.Pool, data: SmartLinkIn) -> Row:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _GRAPH_LOCK)
        if await conn.fetchval("SELECT 1 FROM affiliates WHERE id = $1", data.affiliate_id) is None:
            raise Missing("affiliate_id", f"affiliate {data.affiliate_id} does not exist")
        for i, route in enumerate(data.routes):
            await _check_route(conn, None, data.affiliate_id, route, f"routes.{i}.")
        code = data.code or new_link_code()
        if await conn.fetchval("SELECT 1 FROM tracking_links WHERE code = $1", code):
            raise Conflict("code", f"link code {code!r} is taken")
        link = await conn.fetchrow(
            f"""INSERT INTO tracking_links (code, offer_id, affiliate_id, kind, name,
                                            fallback_url, sticky_hours)
                VALUES ($1, NULL, $2, 'smart', $3, $4, $5) RETURNING {_LINK_COLS}""",
            code, data.affiliate_id, data.name, data.fallback_url, data.sticky_hours,
        )  # fmt: skip
        routes = [await _insert_route(conn, link["id"], r) for r in data.routes]
    return {**dict(link), "routes": routes}


async def update(pool: asyncpg.Pool, link_id: int, changes: dict[str, Any]) -> Row | None:
    """Change a smart link that is not archived (None: none such)."""
    cols = [c for c in ("name", "status", "fallback_url", "sticky_hours") if c in changes]
    sets = "".join(f"{c} = ${i}, " for i, c in enumerate(cols, start=2))
    row = await pool.fetchrow(
        f"""UPDATE tracking_links SET {sets}updated_at = now()
             WHERE id = $1 AND kind = 'smart' AND status <> 'archived' RETURNING {_LINK_COLS}""",
        link_id, *(changes[c] for c in cols),
    )  # fmt: skip
    return (await with_routes(pool, [dict(row)]))[0] if row else None


async def add_route(pool: asyncpg.Pool, link: Row, route: RouteIn) -> Row:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _GRAPH_LOCK)
        n = await conn.fetchval(
            "SELECT count(*) FROM link_routes WHERE link_id = $1 AND status <> 'archived'",
            link["id"],
        )  # fmt: skip
        if n >= MAX_ROUTES:
            raise Refused("routes", f"a smart link has at most {MAX_ROUTES} routes that are not "
                          "archived; archive one first")  # fmt: skip
        await _check_route(conn, link["id"], link["affiliate_id"], route, "")
        row = await _insert_route(conn, link["id"], route)
        await conn.execute(_TOUCH, link["id"])
    return row


async def get_route(pool: asyncpg.Pool, link_id: int, route_id: int) -> Row | None:
    row = await pool.fetchrow(
        f"SELECT {_ROUTE_COLS} FROM link_routes WHERE id = $1 AND link_id = $2", route_id, link_id
    )
    return _route_row(row) if row else None


async def update_route(pool: asyncpg.Pool, link_id: int, route_id: int,
                       changes: dict[str, Any]) -> Row | None:  # fmt: skip
    """Change a route that is not archived (None: none such)."""
    cols = [c for c in ("priority", "weight", "targeting", "daily_click_cap", "total_click_cap",
                        "status") if c in changes]  # fmt: skip
    values = [_jsonb(changes[c]) if c == "targeting" else changes[c] for c in cols]
    sets = "".join(f"{c} = ${i}, " for i, c in enumerate(cols, start=3))
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""UPDATE link_routes SET {sets}updated_at = now()
                 WHERE id = $1 AND link_id = $2 AND status <> 'archived' RETURNING {_ROUTE_COLS}""",
            route_id, link_id, *values,
        )  # fmt: skip
        if row is not None:
            await conn.execute(_TOUCH, link_id)
    return _route_row(row) if row else None


async def archive_route(pool: asyncpg.Pool, link_id: int, route_id: int) -> Row | None:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""UPDATE link_routes SET status = 'archived', updated_at = now()
                 WHERE id = $1 AND link_id = $2 RETURNING {_ROUTE_COLS}""",
            route_id, link_id,
        )  # fmt: skip
        if row is not None:
            await conn.execute(_TOUCH, link_id)
    return _route_row(row) if row else None
