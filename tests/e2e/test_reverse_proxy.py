"""The tracker behind a real reverse proxy (Debian's nginx, started here on the loopback with
this test's own config): the address each client used, not the proxy's, is what the click
is located, judged unique and blocked with; a client's own X-Forwarded-For is not believed.

Clients connect to nginx from several loopback addresses (127.0.0.2, .3, …); nginx appends
the address it saw ($proxy_add_x_forwarded_for) and the tracker trusts only 127.0.0.1 (nginx
itself). The GeoIP database built here places each client address in another country.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet
from redis.asyncio import Redis

from ingest.worker import Worker
from tests.redirect.helpers import CHROME, make_link, make_offer
from tests.servers import free_port
from tracker.settings import Settings

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PLACES = {"127.0.0.2": "DE", "127.0.0.3": "FR", "127.0.0.4": "US", "10.2.0.9": "BR"}
CONF = """
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 128; }}
http {{
    access_log off;
    client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
    uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_redirect off;
        }}
    }}
}}
"""


@pytest.fixture
def behind_nginx(settings: Settings, tmp_path: Path) -> Settings:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoIP2-City",
                        languages=["en"], description="reverse proxy test")  # fmt: skip
    for addr, country in PLACES.items():
        writer.insert_network(IPSet([f"{addr}/32"]), {"country": {"iso_code": country}})
    writer.to_db_file(str(tmp_path / "geo.mmdb"))
    settings.geoip_db = tmp_path / "geo.mmdb"
    settings.trusted_proxies = ["127.0.0.1/32"]
    return settings


@pytest.fixture
async def nginx(behind_nginx: Settings, service: str, tmp_path: Path) -> AsyncIterator[str]:
    d = tmp_path / "nginx"
    d.mkdir()
    port = free_port()
    (d / "nginx.conf").write_text(CONF.format(d=d, port=port, upstream=behind_nginx.port))
    proc = subprocess.Popen([NGINX, "-p", str(d), "-c", str(d / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(100):
                try:
                    await http.get("/healthz")
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, (d / "error.log").read_text()
                    await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _click(proxy: str, path: str, source: str, sub1: str, **headers: str) -> httpx.Response:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(base_url=proxy, transport=transport,
                                 headers={"User-Agent": CHROME, **headers}) as http:  # fmt: skip
        return await http.get(path, params={"sub1": sub1})


async def test_clients_behind_nginx_keep_their_own_addresses(
    behind_nginx: Settings, nginx: str, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer = await make_offer(api, landing_url="https://shop.example/l?c={country}&s={sub1}",
                             fallback_url="https://fallback.example/")  # fmt: skip
    link = await make_link(api, offer)
    rule = await api.post("/api/v1/traffic-rules",
                          json={"offer_id": offer["id"], "ip_blocklist": ["127.0.0.4/32"]})  # fmt: skip
    assert rule.status_code == 201, rule.text
    await asyncio.sleep(behind_nginx.link_refresh_s * 3)
    path = f"/c/{link['code']}"
    answers = {
        "de-1": await _click(nginx, path, "127.0.0.2", "de-1"),
        "de-2": await _click(nginx, path, "127.0.0.2", "de-2"),  # the same visitor again
        "fr": await _click(nginx, path, "127.0.0.3", "fr"),
        "us-blocked": await _click(nginx, path, "127.0.0.4", "us-blocked"),
        # a spoofed header from the client: nginx appends the real address, which wins
        "spoof": await _click(nginx, path, "127.0.0.5", "spoof", **{"X-Forwarded-For": "10.2.0.9"}),
        "spoof-blocked": await _click(
            nginx, path, "127.0.0.4", "spoof-blocked", **{"X-Forwarded-For": "127.0.0.3"}
        ),
    }
    locations = {k: r.headers["location"] for k, r in answers.items()}
    assert locations["de-1"] == "https://shop.example/l?c=DE&s=de-1"
    assert locations["fr"] == "https://shop.example/l?c=FR&s=fr"
    assert locations["spoof"] == "https://shop.example/l?c=&s=spoof"  # not BR: not believed
    assert locations["us-blocked"] == locations["spoof-blocked"] == "https://fallback.example/"

    await Worker(behind_nginx, pool, redis, consumer="t").run(burst=True)
    rows = await pool.fetch(
        "SELECT sub1, country, is_unique, click_class, traffic_rule FROM clicks"
        " WHERE affiliate_id = $1", link["affiliate_id"],
    )  # fmt: skip
    got = {r["sub1"]: (r["country"], r["is_unique"], r["click_class"], r["traffic_rule"])
           for r in rows}  # fmt: skip
    blocked = ("US", False, "blocked", f"ip#{rule.json()['id']}")
    assert got == {
        "de-1": ("DE", True, "human", None),
        "de-2": ("DE", False, "human", None),  # the same address and agent: not unique
        "fr": ("FR", True, "human", None),
        "us-blocked": blocked,
        "spoof": ("", True, "human", None),
        "spoof-blocked": blocked,
    }
