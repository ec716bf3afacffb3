"""A merchant's site for the browser tests: its pages carry what the tracker's API hands out
(the SDK snippet, the cookie pixel), and its server reads the SDK's first-party cookie to
send the usual server-to-server postback."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route


class Shop:
    def __init__(self, tracker: str, advertiser: dict[str, object]) -> None:
        self.tracker = tracker  # the tracker's base URL the merchant's server posts to
        self.advertiser = advertiser
        self.snippet = ""  # the SDK tag, as GET /api/v1/offers/{id}/sdk hands it out
        self.pixel = ""  # a cookie pixel URL for the thank-you page, if any
        self.app = Starlette(routes=[Route("/landing", self.page), Route("/thanks", self.thanks),
                                     Route("/checkout", self.checkout)])  # fmt: skip

    async def page(self, request: Request) -> HTMLResponse:
        return HTMLResponse(f"<!doctype html><title>shop</title>{self.snippet}<p>shoes</p>")

    async def thanks(self, request: Request) -> HTMLResponse:
        order = request.query_params.get("order", "")
        img = f'<img src="{self.pixel}&txn_id={order}&amount=10" alt="">' if self.pixel else ""
        return HTMLResponse(f"<!doctype html><title>thanks</title>{self.snippet}{img}")

    async def checkout(self, request: Request) -> JSONResponse:
        """The merchant's server: the click id from its own first-party cookie, then the
        postback it already sends for every order."""
        cid = request.cookies.get("trk_click_id")
        params = {"advertiser_id": self.advertiser["id"], "token": self.advertiser["postback_token"],
                  "txn_id": request.query_params["order"], "amount": "30.00", "click_id": cid or ""}  # fmt: skip
        async with httpx.AsyncClient(base_url=self.tracker, timeout=10) as http:
            r = await http.get("/postback", params=params)
        return JSONResponse({"click_id": cid, "postback": r.status_code})
