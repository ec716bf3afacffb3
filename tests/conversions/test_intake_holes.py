"""Holes of the postback intake found from outside (issue 17): a replayed signature in
another spelling, the postback secret echoed or cleared by a PUT, the pixel on by
default, approving any amount and ignoring ``require_signature``."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import asyncpg
import httpx

from tests.conversions.conftest import burst, make, world
from tracker.domain.signatures import sign
from tracker.settings import Settings

SECRET = "first-secret-0123456789"


def _signed(secret: str, params: dict[str, str]) -> tuple[str, str, str]:
    """(url, ts, hex signature) of a signed GET postback."""
    stamp = str(int(time.time()))
    return "/postback?" + urlencode(params), stamp, sign(secret, stamp, "GET", "/postback",
                                                         list(params.items()), b"")  # fmt: skip


async def test_a_replay_in_another_spelling_is_refused(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool,
    http: httpx.AsyncClient,
) -> None:  # fmt: skip
    w = await world(api)
    adv, aff, o = w["advertiser"], w["affiliates"][0], w["offers"][0]["id"]
    await make(api, f"/api/v1/advertisers/{adv['id']}/postback-auth",
               {"hmac_secret": SECRET, "require_signature": True}, "PUT")  # fmt: skip
    code = w["links"][(o, aff["id"])]["code"]
    cid = (await http.get(f"/c/{code}")).headers["location"].split("cid=")[1]
    await burst(settings)
    base = {"advertiser_id": str(adv["id"]), "click_id": cid, "txn_id": "r-1", "amount": "9"}
    url_ok, ts_ok, sig_ok = _signed(SECRET, {**base, "status": "approved"})
    r = await http.get(url_ok, headers={"X-Timestamp": ts_ok, "X-Signature": sig_ok})
    assert r.status_code == 202, r.text
    await burst(settings)
    url_no, ts_no, sig_no = _signed(SECRET, {**base, "status": "rejected"})
    r = await http.get(url_no, headers={"X-Timestamp": ts_no, "X-Signature": sig_no})
    assert r.status_code == 202, r.text
    await burst(settings)
    # The approval again, its signature spelt three other ways: each is the same signature.
    for spelling in (f"sha256={sig_ok}", sig_ok.upper(), f"SHA256={sig_ok}"):
        r = await http.get(url_ok, headers={"X-Timestamp": ts_ok, "X-Signature": spelling})
        assert r.status_code == 401 and r.json()["error"]["message"].endswith("replayed"), r.text
        r = await http.get(f"{url_ok}&ts={ts_ok}&signature={spelling}")
        assert r.status_code == 401, r.text
    await burst(settings)
    status = await pool.fetchval(
        "SELECT status FROM conversions WHERE advertiser_id = $1 AND txn_id = 'r-1'", adv["id"]
    )
    assert status == "rejected", "a replayed approval flipped the conversion back"


async def test_the_postback_secret_is_shown_once_kept_and_rotated(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    w = await world(api)
    adv = w["advertiser"]["id"]
    url = f"/api/v1/advertisers/{adv}/postback-auth"
    assert (await api.get(url)).json()["allow_pixel"] is False, "the pixel is off by default"
    r = await api.put(url, json={"hmac_secret": SECRET, "require_signature": True})
    assert r.status_code == 200 and SECRET not in r.text and r.json()["has_secret"] is True
    # A PUT without a secret keeps it: signed postbacks still pass.
    r = await api.put(url, json={"require_signature": True, "ip_allowlist": []})
    assert r.status_code == 200 and r.json()["has_secret"] is True, r.text
    params = {"advertiser_id": str(adv), "txn_id": "s-1", "amount": "1"}
    link, ts, sig = _signed(SECRET, params)
    assert (
        await http.get(link, headers={"X-Timestamp": ts, "X-Signature": sig})
    ).status_code == 202

    # Rotation: the new secret is shown once, the old one stays valid for the overlap.
    r = await api.post(f"{url}/secret", json={"overlap_s": 3600})
    assert r.status_code == 201, r.text
    new, until = r.json()["hmac_secret"], r.json()["previous_until"]
    assert len(new) >= 32 and until is not None
    got = await api.get(url)
    assert new not in got.text and SECRET not in got.text
    assert got.json()["previous_until"] == until
    for n, secret in enumerate((SECRET, new)):
        link, ts, sig = _signed(secret, {**params, "txn_id": f"s-2-{n}"})
        r = await http.get(link, headers={"X-Timestamp": ts, "X-Signature": sig})
        assert r.status_code == 202, (n, r.text)
    # A rotation without overlap ends the old secret at once.
    r = await api.post(f"{url}/secret", json={"overlap_s": 0})
    newer = r.json()["hmac_secret"]
    assert r.status_code == 201 and r.json()["previous_until"] is not None
    link, ts, sig = _signed(new, {**params, "txn_id": "s-3"})
    r = await http.get(link, headers={"X-Timestamp": ts, "X-Signature": sig})
    assert r.status_code == 401 and r.json()["error"]["field"] == "signature"
    link, ts, sig = _signed(newer, {**params, "txn_id": "s-4"})
    assert (
        await http.get(link, headers={"X-Timestamp": ts, "X-Signature": sig})
    ).status_code == 202
    # Requiring signatures without any secret is refused with the field named.
    bare = (await make(api, "/api/v1/advertisers", {"name": "bare"}))["id"]
    r = await api.put(f"/api/v1/advertisers/{bare}/postback-auth", json={"require_signature": True})
    assert r.status_code == 422 and r.json()["error"]["field"] == "require_signature"


async def test_the_pixel_is_off_by_default_pending_bounded_and_never_unsigned(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool,
    http: httpx.AsyncClient,
) -> None:  # fmt: skip
    w = await world(api)
    adv, aff, o = w["advertiser"], w["affiliates"][0], w["offers"][0]["id"]
    code = w["links"][(o, aff["id"])]["code"]
    cid = (await http.get(f"/c/{code}")).headers["location"].split("cid=")[1]
    await burst(settings)
    auth = f"/api/v1/advertisers/{adv['id']}/postback-auth"

    async def pixel(txn: str, amount: str, **extra: str) -> None:
        async with httpx.AsyncClient(base_url=service, cookies={"trk_cid": cid}) as browser:
            r = await browser.get("/pixel", params={"advertiser_id": adv["id"], "txn_id": txn,
                                                    "amount": amount, **extra})  # fmt: skip
        assert r.status_code == 200 and r.content[:6] == b"GIF89a"

    async def stored() -> dict[str, str]:
        await burst(settings)
        rows = await pool.fetch("SELECT txn_id, status FROM conversions WHERE advertiser_id = $1",
                                adv["id"])  # fmt: skip
        return {r["txn_id"]: r["status"] for r in rows}

    await pixel("p-off", "10")
    assert await stored() == {}, "the pixel converts only where the advertiser turned it on"
    await make(api, auth, {"allow_pixel": True}, "PUT")
    await make(api, f"/api/v1/offers/{o}/conversion-settings",
               {"pixel_min_amount": "5", "pixel_max_amount": "50"}, "PUT")  # fmt: skip
    await pixel("p-on", "10", status="approved")  # a browser's status is ignored
    await pixel("p-big", "1000000")
    await pixel("p-small", "1")
    await pixel("p-eur", "10", currency="EUR")  # bounds are in the offer's currency
    assert await stored() == {"p-on": "pending"}
    await make(api, auth, {"allow_pixel": True, "pixel_status": "approved"}, "PUT")
    await pixel("p-approved", "20")
    assert (await stored())["p-approved"] == "approved"
    # Requiring signatures turns the pixel off, whatever allow_pixel says.
    await make(api, auth, {"allow_pixel": True, "hmac_secret": SECRET, "require_signature": True},
               "PUT")  # fmt: skip
    await pixel("p-unsigned", "20")
    assert "p-unsigned" not in await stored()
