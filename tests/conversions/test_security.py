"""Refused postbacks: wrong token, bad or stale or replayed signature, an address not on
the allowlist (X-Forwarded-For is not believed) — each 401/403 JSON, nothing stored."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
from redis.asyncio import Redis

from tests.conversions.conftest import burst, make, world
from tracker.domain.signatures import sign
from tracker.settings import Settings

SECRET = "s3cret-s3cret-s3cret"


def signed(params: dict[str, Any], *, ts: int | None = None, body: bytes = b"",
           method: str = "GET") -> tuple[str, dict[str, str]]:  # fmt: skip
    q = {k: str(v) for k, v in params.items()}
    stamp = str(ts if ts is not None else int(time.time()))
    sig = sign(SECRET, stamp, method, "/postback", list(q.items()), body)
    return "/postback?" + urlencode(q), {"X-Timestamp": stamp, "X-Signature": f"sha256={sig}"}


async def _stored(settings: Settings, redis: Redis, pool: asyncpg.Pool, adv: int) -> int:
    """Conversions stored after the worker drained the streams. (Stream length proves
    nothing: the worker trims acknowledged entries. A refused postback that had reached
    the stream would have become a row.)"""
    await burst(settings)
    return int(
        await pool.fetchval("SELECT count(*) FROM conversions WHERE advertiser_id = $1", adv)
    )


async def test_refused_postbacks_store_nothing(
    settings: Settings, service: str, api: httpx.AsyncClient, http: httpx.AsyncClient,
    pool: asyncpg.Pool, redis: Redis,
) -> None:  # fmt: skip
    w = await world(api)
    adv = w["advertiser"]
    base = {"advertiser_id": adv["id"], "txn_id": "t-1", "amount": "5"}
    r = await http.get("/postback", params={**base, "token": "wrong-token-123"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert r.json()["error"]["field"] == "token"
    r = await http.get("/postback", params={"txn_id": "t-1", "token": "no-such-token-at-all"})
    assert r.status_code == 401

    await make(api, f"/api/v1/advertisers/{adv['id']}/postback-auth",
               {"hmac_secret": SECRET, "require_signature": True}, "PUT")  # fmt: skip
    r = await http.get("/postback", params={**base, "token": adv["postback_token"]})
    assert r.status_code == 401 and "signed" in r.json()["error"]["message"]
    url, headers = signed(base)
    r = await http.get(url, headers={**headers, "X-Signature": "sha256=" + "0" * 64})
    assert r.status_code == 401 and r.json()["error"]["message"].endswith("bad_signature")
    url, headers = signed({**base, "amount": "5"})
    r = await http.get(url.replace("amount=5", "amount=500"), headers=headers)  # tampered
    assert r.status_code == 401
    url, headers = signed(base, ts=int(time.time()) - 301)
    r = await http.get(url, headers=headers)
    assert r.status_code == 401 and r.json()["error"]["message"].endswith("stale")
    assert await _stored(settings, redis, pool, adv["id"]) == 0

    # A good signature is accepted once; the very same request again is a replay.
    url, headers = signed(base)
    assert (await http.get(url, headers=headers)).status_code == 202
    replay = await http.get(url, headers=headers)
    assert replay.status_code == 401 and replay.json()["error"]["message"].endswith("replayed")
    # Signed JSON body by POST, signature in the query string.
    body = b'{"advertiser_id": %d, "txn_id": "t-2", "amount": "7.5"}' % adv["id"]
    stamp = str(int(time.time()))
    sig = sign(SECRET, stamp, "POST", "/postback", [("ts", stamp)], body)
    r = await http.post(f"/postback?ts={stamp}&signature={sig}", content=body,
                        headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 202, r.text
    assert await _stored(settings, redis, pool, adv["id"]) == 2

    # Allowlist: a forged X-Forwarded-For from loopback does not make us someone else.
    await make(api, f"/api/v1/advertisers/{adv['id']}/postback-auth",
               {"ip_allowlist": ["198.51.100.0/24"]}, "PUT")  # fmt: skip
    r = await http.get("/postback", params={**base, "txn_id": "t-3", "token": adv["postback_token"]},
                       headers={"X-Forwarded-For": "198.51.100.7"})  # fmt: skip
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    await make(api, f"/api/v1/advertisers/{adv['id']}/postback-auth",
               {"ip_allowlist": ["127.0.0.0/8"]}, "PUT")  # fmt: skip
    r = await http.get(
        "/postback", params={**base, "txn_id": "t-3", "token": adv["postback_token"]}
    )
    assert r.status_code == 202
    assert await _stored(settings, redis, pool, adv["id"]) == 3

    # Behind a proxy we were told to trust, its X-Forwarded-For names the client.
    await make(api, f"/api/v1/advertisers/{adv['id']}/postback-auth",
               {"ip_allowlist": ["198.51.100.0/24"]}, "PUT")  # fmt: skip
    settings.trusted_proxies = ["127.0.0.0/8"]
    r = await http.get("/postback", params={**base, "txn_id": "t-4", "token": adv["postback_token"]},
                       headers={"X-Forwarded-For": "198.51.100.7"})  # fmt: skip
    assert r.status_code == 202, r.text
    # … and so does RFC 7239 Forwarded (the same rule as the redirect's: client_ip)
    r = await http.get("/postback", params={**base, "txn_id": "t-5", "token": adv["postback_token"]},
                       headers={"Forwarded": 'for="198.51.100.8:4711"'})  # fmt: skip
    assert r.status_code == 202, r.text
    r = await http.get("/postback", params={**base, "txn_id": "t-6", "token": adv["postback_token"]},
                       headers={"Forwarded": "for=203.0.113.9"})  # fmt: skip
    assert r.status_code == 403, r.text
