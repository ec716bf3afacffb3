"""Bad input gets a clear 4xx answer, and the service keeps serving."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import create_world


async def test_unknown_link_code_is_404_html_without_redirect(service: str) -> None:
    async with httpx.AsyncClient(base_url=service) as http:
        for code in ("nope", "x" * 65, "%0d%0aLocation:%20https://evil.example", "a/b"):
            r = await http.get(f"/c/{code}")
            assert r.status_code == 404
            assert "location" not in r.headers
            assert r.headers["content-type"].startswith("text/html")
            assert b"Link not found" in r.content
        assert (await http.get("/healthz")).status_code == 200


async def test_malformed_json_names_the_body(api: httpx.AsyncClient) -> None:
    r = await api.post("/api/v1/advertisers", content=b'{"name": ',
                       headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 422
    assert r.json()["error"] == {"code": "malformed_json", "message": r.json()["error"]["message"],
                                 "field": "body"}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/advertisers", {"name": ""}, "name"),
        ("/api/v1/advertisers", {"name": "x", "extra": 1}, "extra"),
        ("/api/v1/affiliates", {}, "name"),
        (
            "/api/v1/offers",
            {"advertiser_id": 1, "name": "o", "landing_url": "javascript:alert(1)//"},
            "landing_url",
        ),
        (
            "/api/v1/offers",
            {"advertiser_id": "x", "name": "o", "landing_url": "https://a.example/"},
            "advertiser_id",
        ),
        (
            "/api/v1/offers",
            {
                "advertiser_id": 1,
                "name": "o",
                "landing_url": "https://a.example/",
                "default_payout": "-1",
            },
            "default_payout",
        ),
        (
            "/api/v1/offers",
            {
                "advertiser_id": 1,
                "name": "o",
                "landing_url": "https://a.example/",
                "currency": "usd",
            },
            "currency",
        ),
        ("/api/v1/links", {"offer_id": 1, "affiliate_id": 1, "code": "bad code!"}, "code"),
    ],
)
async def test_invalid_fields_are_422_naming_the_field(
    api: httpx.AsyncClient, path: str, body: dict[str, object], field: str
) -> None:
    r = await api.post(path, json=body)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["field"] == field and err["code"] == "invalid" and err["message"]
    assert (await api.get("/healthz")).status_code == 200


async def test_references_to_missing_objects_are_named(api: httpx.AsyncClient) -> None:
    r = await api.post("/api/v1/offers", json={"advertiser_id": 999999999, "name": "o",
                                               "landing_url": "https://a.example/"})  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["field"] == "advertiser_id"
    world = await create_world(api)
    r = await api.post(
        "/api/v1/links", json={"offer_id": world["offer"]["id"], "affiliate_id": 999999999}
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "affiliate_id"
    r = await api.post("/api/v1/links", json={"offer_id": world["offer"]["id"],
                                              "affiliate_id": world["affiliate"]["id"],
                                              "code": world["link"]["code"]})  # fmt: skip
    assert r.status_code == 409 and r.json()["error"]["field"] == "code"


async def test_missing_or_wrong_key_is_401_json(service: str) -> None:
    async with httpx.AsyncClient(base_url=service) as http:
        for headers in (
            {},
            {"Authorization": "Bearer trk_000000000000_nope"},
            {"Authorization": "Basic abc"},
        ):
            r = await http.get("/api/v1/affiliates/1", headers=headers)
            assert r.status_code == 401
            assert r.json()["error"]["code"] == "unauthorized"


async def test_reports_reject_bad_parameters(api: httpx.AsyncClient) -> None:
    cases = [
        ({"group_by": "planet"}, "group_by"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
        ({"from": "yesterday"}, "from"),
    ]
    for params, field in cases:
        r = await api.get("/api/v1/reports", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["field"] == field


async def test_unknown_click_and_bad_click_id(api: httpx.AsyncClient) -> None:
    r = await api.get("/api/v1/clicks/01900000-0000-7000-8000-000000000000")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await api.get("/api/v1/clicks/not-a-uuid")
    assert r.status_code == 422 and r.json()["error"]["field"] == "click_id"


async def test_openapi_and_docs_are_served(service: str) -> None:
    async with httpx.AsyncClient(base_url=service) as http:
        spec = (await http.get("/openapi.json")).json()
        assert {"/api/v1/offers", "/api/v1/reports", "/api/v1/clicks/{click_id}"} <= set(
            spec["paths"]
        )
        assert (await http.get("/docs")).status_code == 200
