"""How the tenant-isolation matrix calls the API and judges the answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.tracker.api.matrix_world import Who, World, adv_marker, aff_marker

Case = Callable[["Ctx"], Awaitable[None]]


def registry() -> tuple[dict[str, Case], Callable[[str], Callable[[Case], Case]]]:
    table: dict[str, Case] = {}

    def case(key: str) -> Callable[[Case], Case]:
        def put(fn: Case) -> Case:
            table[key] = fn
            return fn

        return put

    return table, case


class Ctx:
    def __init__(self, w: World, clients: dict[str, httpx.AsyncClient]) -> None:
        self.w = w
        self.clients = clients
        self.calls = 0
        self.key = ""  # the case being run ("METHOD /path")
        # every answer below 300, for the field check against docs/visibility.md
        self.answers: list[tuple[Who, str, httpx.Response]] = []
        self.admin = clients["admin"]
        now = datetime.now(UTC)
        self.span = {
            "from": (now - timedelta(days=1)).isoformat(),
            "to": (now + timedelta(hours=2)).isoformat(),
        }

    async def call(self, who: Who, method: str, url: str, expect: int, **kw: Any) -> httpx.Response:
        r = await self.clients[who.name].request(method, url, **kw)
        self.calls += 1
        assert r.status_code == expect, f"{who.name} {method} {url}: {r.status_code} {r.text[:300]}"
        if r.status_code < 300:
            for marker in who.foreign_markers():
                assert marker not in r.text, f"{who.name} {method} {url} leaked {marker}"
            if method == self.key.split()[0]:
                self.answers.append((who, self.key, r))
        return r

    def everyone(self) -> list[Who]:
        return self.w.who


def own(who: Who, i: int | None = None, j: int | None = None) -> bool:
    """May ``who`` see a row of advertiser ``i`` / partner ``j``?"""
    if who.role == "admin":
        return True
    if who.role == "advertiser":
        return i is not None and who.tenant == i
    return j is not None and who.tenant == j


def admin_read(who: Who) -> int:
    return 200 if who.role == "admin" else 403


def admin_write(who: Who, ok: int = 200) -> int:
    return ok if who.role == "admin" and who.write else 403


async def _admin_only_write(c: Ctx, method: str, url: str, body: Any, ok: int = 200) -> None:
    for who in c.everyone():
        if who.role == "admin" and who.write:
            continue
        await c.call(who, method, url, 403, json=body)
    admin = next(w for w in c.everyone() if w.name == "admin")
    await c.call(admin, method, url, ok, json=body)


async def _list(c: Ctx, url: str, mine: Callable[[Who], str | None], params: Any = None,
                refuse: Callable[[Who], bool] = lambda who: False) -> None:  # fmt: skip
    for who in c.everyone():
        if refuse(who):
            await c.call(who, "GET", url, 403, params=params)
            continue
        r = await c.call(who, "GET", url, 200, params=params)
        marker = mine(who) if who.role != "admin" else None  # admins page through all tests' rows
        if marker is not None:
            assert marker in r.text, f"{who.name} GET {url} does not see its own rows"


def _tenant_marker(who: Who) -> str | None:
    if who.role == "advertiser" and who.tenant is not None:
        return adv_marker(who.tenant)
    if who.role == "affiliate" and who.tenant is not None:
        return aff_marker(who.tenant)
    return None


async def _by_id(c: Ctx, template: str, objects: list[tuple[Any, int | None, int | None]],
                 sees: Callable[[Who, int | None, int | None], bool] = own,
                 refuse: Callable[[Who], bool] = lambda who: False) -> None:  # fmt: skip
    for who in c.everyone():
        for ident, i, j in objects:
            expect = 403 if refuse(who) else 200 if sees(who, i, j) else 404
            await c.call(who, "GET", template.format(ident), expect)


def _partner_or_owner(who: Who, i: int | None, j: int | None) -> bool:
    """Matrix partners have a link on every matrix offer: they see its offer and advertiser."""
    return (i is not None and (who.role == "affiliate" or own(who, i))) or who.role == "admin"


def _advertiser_or_owner(who: Who, i: int | None, j: int | None) -> bool:
    """Matrix advertisers have every matrix partner on their offers."""
    return (
        j is not None and (who.role == "advertiser" or own(who, None, j))
    ) or who.role == "admin"


def _first_adv(who: Who) -> str | None:
    return adv_marker(who.tenant if who.role == "advertiser" and who.tenant is not None else 0)


def _first_aff(who: Who) -> str | None:
    return aff_marker(who.tenant if who.role == "affiliate" and who.tenant is not None else 0)


def _pair_marker(who: Who) -> str | None:
    return _tenant_marker(who) or adv_marker(0)


def _not_admin(who: Who) -> bool:
    return who.role != "admin"


def _advertiser_key(who: Who) -> bool:
    return who.role == "advertiser"


def _objs(c: Ctx, kind: str) -> list[tuple[Any, int | None, int | None]]:
    w = c.w
    scratch = [(w.scratch[kind]["id"], None, None)] if kind in w.scratch else []
    if kind == "adv":
        return [(a["id"], i, None) for i, a in enumerate(w.adv)] + scratch
    if kind == "aff":
        return [(a["id"], None, j) for j, a in enumerate(w.aff)] + scratch
    if kind == "offer":
        return [(o["id"], i, None) for i, o in enumerate(w.offer)] + scratch
    if kind == "link":
        return [(lk["id"], i, j) for (i, j), lk in w.link.items()] + scratch
    if kind == "click":
        return [(cid, i, j) for (i, j), cid in w.click.items()]
    if kind == "conv":
        return [(cv["id"], i, j) for (i, j), cv in w.conv.items()]
    raise AssertionError(kind)


async def _tenant_writes(c: Ctx, kind: str, collection: str, body: dict[str, Any]) -> None:
    """PATCH and archive: admin-only; tried on every tenant's row, done on a scratch row."""
    for ident, _, _ in _objs(c, kind)[:-1]:
        for who in c.everyone():
            if not (who.role == "admin" and who.write):
                await c.call(who, "PATCH", f"/api/v1/{collection}/{ident}", 403, json=body)
                await c.call(who, "POST", f"/api/v1/{collection}/{ident}/archive", 403)


async def _scratch_write(c: Ctx, method: str, url: str, ok: int = 200, body: Any = None) -> None:
    await _admin_only_write(c, method, url, body, ok)
