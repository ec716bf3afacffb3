"""Every error answered as JSON: ``{"error": {"code", "message", "field"}, "errors": [...]}``."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from schemas.api import ErrorBody
from tracker.api.json import JSON
from tracker.store.entities import Conflict, Invalid, Missing

log = logging.getLogger("tracker.api")


class ApiProblem(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error answers a route may give (all ``ErrorBody``)."""
    what = {
        401: "no API key, or an invalid or revoked one",
        403: "the key lacks the scope or role for this call",
        404: "no such object, or one of another tenant",
        409: "conflicts with the object's state (taken, archived)",
        413: "request body too large",
        415: "the body's media type is not one the route reads",
        422: "invalid request: the field that is wrong is named",
        429: "rate limit of the key exceeded; see Retry-After",
        503: "cannot take it now (the stream is away); retry after Retry-After",
    }
    return {s: {"model": ErrorBody, "description": what[s]} for s in statuses}


def _body(code: str, message: str, field: str | None = None) -> dict[str, object]:
    err = {"code": code, "message": message, "field": field}
    return {"error": err, "errors": [err]}


def _methods(request: Request) -> set[str]:
    allowed: set[str] = set()
    # FastAPI >= 0.16x keeps included routers lazily: flatten them to their routes.
    flat = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = [c.route for c in flat(request.app.router.routes)] if flat else request.app.routes
    for route in routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE and getattr(route, "include_in_schema", True):
            allowed |= getattr(route, "methods", None) or set()
    return allowed


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _problem(_: Request, exc: ApiProblem) -> JSON:
        return JSON(_body(exc.code, exc.message, exc.field), exc.status, headers=exc.headers)

    @app.exception_handler(Missing)
    async def _missing(_: Request, exc: Missing) -> JSON:
        return JSON(_body("not_found", exc.message, exc.field), 422)

    @app.exception_handler(Invalid)
    async def _invalid_value(_: Request, exc: Invalid) -> JSON:
        return JSON(_body("invalid", exc.message, exc.field), 422)

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSON:
        return JSON(_body("conflict", exc.message, exc.field), 409)

    @app.exception_handler(asyncpg.DataError)
    async def _bad_value(_: Request, exc: asyncpg.DataError) -> JSON:
        # A value the database cannot hold (an id past 64 bits, a date out of range).
        return JSON(_body("invalid", "a value is out of range", None), 422)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSON:
        errors: list[dict[str, str | None]] = []
        for e in exc.errors():
            if e.get("type") == "json_invalid":  # loc is ("body", <character offset>)
                errors.append(
                    {"code": "malformed_json", "message": str(e.get("msg")), "field": "body"}
                )
                continue
            loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "header")]
            # a union's branch (`Money | None`: "function-before[…]", "none") is not a field
            loc = [p for i, p in enumerate(loc) if not (i and ("[" in p or p == "none"))]
            field = ".".join(loc) or None
            code = "invalid"
            errors.append({"code": code, "message": str(e.get("msg", "invalid")), "field": field})
        first = (
            errors[0]
            if errors
            else {"code": "invalid", "message": "invalid request", "field": None}
        )
        return JSON({"error": first, "errors": errors}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSON:
        if exc.status_code == 400:  # a body FastAPI could not parse (not UTF-8, not JSON)
            return JSON(_body("malformed_json", str(exc.detail), "body"), 422)
        headers = exc.headers
        if exc.status_code == 405:  # every method of the path, not only the first route's
            headers = {**(headers or {}), "Allow": ", ".join(sorted(_methods(request)))}
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        return JSON(_body(code, str(exc.detail)), exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSON:
        log.exception("unhandled error")
        return JSON(_body("internal", "internal error"), 500)
