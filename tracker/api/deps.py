"""Request dependencies: services, authentication, roles and scopes."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from schemas.types import MAX_ID
from tracker.api.errors import ApiProblem
from tracker.api.limits import check_rate
from tracker.domain.keys import hash_key
from tracker.resources import Services
from tracker.store.keys import Principal, authenticate

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer trk_…`")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_principal(
    services: ServicesDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise ApiProblem(401, "unauthorized", "missing API key", "Authorization",
                         headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    token = creds.credentials
    digest = hash_key(token)
    now = time.monotonic()
    hit = services.key_cache.get(digest)
    if hit is not None and hit[1] > now:
        principal = hit[0]
    else:
        principal = await authenticate(services.pool, token)
        if len(services.key_cache) > 10_000:
            services.key_cache.clear()
        # Cached for at most api_key_cache_s (<= 60 s): revocation reaches every process in time.
        services.key_cache[digest] = (principal, now + services.settings.api_key_cache_s)
    if not isinstance(principal, Principal):
        raise ApiProblem(401, "unauthorized", "invalid or revoked API key", "Authorization",
                         headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    await check_rate(services, principal)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(scope: str, *, admin: bool = False):  # type: ignore[no-untyped-def]
    async def check(principal: PrincipalDep) -> Principal:
        if scope not in principal.scopes:
            raise ApiProblem(403, "forbidden", f"this key lacks the {scope!r} scope")
        if admin and principal.role != "admin":
            raise ApiProblem(403, "forbidden", "this call needs an admin key")
        return principal

    return Depends(check)


AdminWrite = Annotated[Principal, require("write", admin=True)]
AdminRead = Annotated[Principal, require("read", admin=True)]
Reader = Annotated[Principal, require("read")]

# Ids as the database holds them (64-bit); a larger one could never name a row.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
