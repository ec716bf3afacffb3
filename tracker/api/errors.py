"""Every error answered as JSON: ``{"error": {"code", "message", "field"}, "errors": [...]}``."""

from __future__ import annotations

import logging

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tracker.api.json import JSON
from tracker.store.entities import Conflict, Missing

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


def _body(code: str, message: str, field: str | None = None) -> dict[str, object]:
    err = {"code": code, "message": message, "field": field}
    return {"error": err, "errors": [err]}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _problem(_: Request, exc: ApiProblem) -> JSON:
        return JSON(_body(exc.code, exc.message, exc.field), exc.status, headers=exc.headers)

    @app.exception_handler(Missing)
    async def _missing(_: Request, exc: Missing) -> JSON:
        return JSON(_body("not_found", exc.message, exc.field), 422)

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
    async def _http(_: Request, exc: StarletteHTTPException) -> JSON:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        return JSON(_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSON:
        log.exception("unhandled error")
        return JSON(_body("internal", "internal error"), 500)
