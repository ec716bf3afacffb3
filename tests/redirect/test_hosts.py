"""The Host check in front of every route (redirect/hosts.py, docs/adr/0096), on the real
served app: every Host while no tracking domain is registered; from the first one on,
only registered ones and the tracker's own, health and metrics on any."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY

from tests.conftest import create_world


@pytest.fixture
async def no_domains(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """Start and end with none registered (other tests' servers share the database)."""
    await pool.execute("DELETE FROM tracking_domains")
    yield
    await pool.execute("DELETE FROM tracking_domains")


async def _get(service: str, path: str, host: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=service, timeout=10) as http:
        return await http.get(path, headers={"Host": host})


async def _until(check: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not within the refresh time")


async def test_unregistered_hosts_are_refused_once_a_domain_is_registered(
    service: str, api: httpx.AsyncClient, no_domains: None
) -> None:
    w = await create_world(api)
    code = w["link"]["code"]
    port = urlsplit(service).port
    assert (await _get(service, f"/c/{code}", f"anything.example:{port}")).status_code == 302

    r = await api.post("/api/v1/tracking-domains",
                       json={"scope": "advertiser", "hostname": "track.shop.localhost",
                             "advertiser_id": w["advertiser"]["id"]})  # fmt: skip
    assert r.status_code == 201, r.text

    async def refused() -> bool:
        return (await _get(service, f"/c/{code}", f"anything.example:{port}")).status_code == 421

    await _until(refused)
    before = REGISTRY.get_sample_value("tracker_hosts_refused_total") or 0
    for path in (f"/c/{code}", "/sdk.js", "/pixel?advertiser_id=1", "/api/v1/offers"):
        no = await _get(service, path, f"other.example:{port}")
        assert no.status_code == 421, path
        assert no.json()["error"] == {"code": "unknown_host", "field": "host",
                                      "message": "this host is not a tracking domain of this tracker"}  # fmt: skip
    assert REGISTRY.get_sample_value("tracker_hosts_refused_total") == before + 4
    # The registered one (any case, any port) and the tracker's own address are answered.
    assert (await _get(service, f"/c/{code}", f"Track.Shop.Localhost:{port}")).status_code == 302
    assert (await _get(service, f"/c/{code}", f"127.0.0.1:{port}")).status_code == 302
    assert (await api.get("/api/v1/tracking-domains")).status_code == 200
    # Load balancers and Prometheus use the address: health and metrics answer any Host.
    for path in ("/healthz", "/metrics"):
        assert (await _get(service, path, f"10.0.0.9:{port}")).status_code == 200, path
    # A request without a Host header at all (HTTP/1.0) is refused too.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /c/{code} HTTP/1.0\r\n\r\n".encode())
    await writer.drain()
    head = await reader.read(64)
    writer.close()
    assert head.startswith(b"HTTP/1.1 421"), head

    # Unregistered again: every Host, within the refresh time.
    assert (await api.delete(f"/api/v1/tracking-domains/{r.json()['id']}")).status_code == 204

    async def open_again() -> bool:
        return (await _get(service, f"/c/{code}", f"anything.example:{port}")).status_code == 302

    await _until(open_again)
