"""What each CLI command does."""

from __future__ import annotations

import asyncio
import logging
import sys

import asyncpg
import httpx

from tracker.runtime.servers import servers
from tracker.settings import Settings
from tracker.store.keys import create_key
from tracker.store.migrate import migrate_dsn

log = logging.getLogger("tracker")


def _migrate(database_url: str, zones: list[str]) -> None:
    applied = asyncio.run(migrate_dsn(database_url, zones))
    log.info("migrations applied: %s", ", ".join(applied) if applied else "none needed")


def up(settings: Settings) -> int:
    from service import compose

    with servers(settings, owner=True) as urls:
        _migrate(urls.database_url, settings.report_time_zones)
        log.info("tracker up on http://%s:%s (Ctrl-C to stop)", settings.host, settings.port)
        compose.serve(settings, urls.database_url, urls.redis_url, with_worker=True,
                      workers=settings.workers)  # fmt: skip
    return 0


def serve(settings: Settings) -> int:
    from service import compose

    with servers(settings) as urls:
        compose.serve(settings, urls.database_url, urls.redis_url, with_worker=False,
                      workers=settings.workers)  # fmt: skip
    return 0


def ingest(settings: Settings, *, burst: bool, metrics_port: int | None, metrics_host: str,
           check: bool = False, consumer: str | None = None) -> int:  # fmt: skip
    from service import compose

    if check:
        with servers(settings) as urls:
            return asyncio.run(compose.ingest_check(settings, urls.redis_url, consumer))
    if settings.workers > 1:
        from service.processes import run_ingest_workers

        with servers(settings) as urls:
            return run_ingest_workers(
                settings, urls.database_url, urls.redis_url, workers=settings.workers,
                burst=burst, metrics_port=metrics_port, metrics_host=metrics_host,
            )  # fmt: skip
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=metrics_host)
    with servers(settings) as urls:
        run = compose.ingest(settings, urls.database_url, urls.redis_url, burst=burst)
        try:
            import uvloop

            uvloop.run(run)
        except ImportError:  # uvloop is not built for every platform
            asyncio.run(run)
    return 0


def migrate(settings: Settings) -> int:
    with servers(settings) as urls:
        _migrate(urls.database_url, settings.report_time_zones)
    return 0


async def _new_key(database_url: str, role: str, scopes: tuple[str, ...], adv: int | None,
                   aff: int | None, label: str | None) -> str:  # fmt: skip
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        return (await create_key(conn, role, scopes=scopes, advertiser_id=adv, affiliate_id=aff,
                                 label=label)).token  # fmt: skip
    finally:
        await conn.close()


def keys_create(settings: Settings, role: str, scopes: tuple[str, ...], adv: int | None,
                aff: int | None, label: str | None) -> int:  # fmt: skip
    if role == "advertiser" and adv is None:
        print("tracker: --advertiser-id is required for an advertiser key", file=sys.stderr)
        return 2
    if role == "affiliate" and aff is None:
        print("tracker: --affiliate-id is required for an affiliate key", file=sys.stderr)
        return 2
    bad = set(scopes) - {"read", "write"}
    if bad or not scopes:
        print(f"tracker: scopes must be read and/or write, not {sorted(bad)}", file=sys.stderr)
        return 2
    with servers(settings) as urls:
        _migrate(urls.database_url, settings.report_time_zones)
        token = asyncio.run(_new_key(urls.database_url, role, scopes, adv, aff, label))
    print(token)
    print(f"# {role} key ({','.join(scopes)}): shown once, stored hashed", file=sys.stderr)
    return 0


async def demo(settings: Settings, base_url: str | None, api_key: str | None) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    base = (base_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    if api_key is None:
        with servers(settings) as urls:
            api_key = await _new_key(
                urls.database_url, "admin", ("read", "write"), None, None, "demo"
            )
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http:

        async def post(path: str, body: dict[str, object]) -> dict[str, object]:
            r = await http.post(path, json=body)
            if r.status_code != 201:
                raise SystemExit(f"tracker demo: {path} answered {r.status_code}: {r.text}")
            data: dict[str, object] = r.json()
            return data

        try:
            adv = await post("/api/v1/advertisers", {"name": "Demo Shop"})
        except httpx.ConnectError:
            print(
                f"tracker demo: nothing answers on {base}; start it with `tracker up`",
                file=sys.stderr,
            )
            return 1
        aff = await post("/api/v1/affiliates", {"name": "Demo Partner"})
        offer = await post(
            "/api/v1/offers",
            {
                "advertiser_id": adv["id"],
                "name": "Demo Offer",
                "landing_url": "https://shop.example/landing?click_id={click_id}&aff={aff_id}&s1={sub1}",
                "default_payout": "12.50",
                "default_revenue": "20.00",
            },
        )
        link = await post("/api/v1/links", {"offer_id": offer["id"], "affiliate_id": aff["id"]})
    print(f"API key (admin, shown once): {api_key}")
    print(
        f"advertiser {adv['id']}, affiliate {aff['id']}, offer {offer['id']}, link {link['code']}"
    )
    print(f"\nTracking URL:\n  {link['url']}?sub1=demo\n")
    print("Click it (or curl -si it) and copy click_id from the Location header, then:\n")
    print(
        f"  curl -s '{base}/postback?advertiser_id={adv['id']}&token={adv['postback_token']}"
        f"&click_id=CLICK_ID&txn_id=order-1&amount=49.90&currency=USD'\n"
    )
    print(
        f"Report:\n  curl -s -H 'Authorization: Bearer {api_key}' '{base}/api/v1/reports?group_by=affiliate'"
    )
    return 0
