"""Authenticate one postback: IP allowlist, then HMAC signature or token.

Failures answer 401 (credentials) or 403 (address) as JSON and are logged;
nothing is stored. A valid signature is remembered for the skew window so
that the same signed request cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from datetime import UTC, datetime

from fastapi import Request

from tracker import metrics, redis_keys
from tracker.api.errors import ApiProblem
from tracker.domain import signatures
from tracker.domain.client_ip import allowed, client_ip, networks
from tracker.domain.incoming_params import Postback
from tracker.redis_client import away
from tracker.resources import Services
from tracker.store import incoming_auth as postback_auth
from tracker.store.incoming_auth import AdvertiserAuth

log = logging.getLogger("tracker.postback")


def refuse(status: int, reason: str, message: str, field: str | None, who: object,
           request: Request) -> ApiProblem:  # fmt: skip
    metrics.POSTBACKS_REFUSED.labels(reason).inc()
    peer = request.client.host if request.client else "-"
    log.warning("postback refused: reason=%s advertiser=%s peer=%s path=%s", reason, who, peer,
                request.url.path)  # fmt: skip
    code = "forbidden" if status == 403 else "unauthorized"
    return ApiProblem(status, code, message, field)


async def authenticate(
    services: Services, request: Request, pb: Postback, pairs: list[tuple[str, str]], body: bytes
) -> AdvertiserAuth:
    header_adv = request.headers.get("x-advertiser-id")
    adv_id = pb.advertiser_id or (int(header_adv) if header_adv and header_adv.isdigit() else None)
    auth: AdvertiserAuth | None = None
    if adv_id is not None:
        auth = await postback_auth.by_id(
            services.pool, adv_id, services.settings.postback_auth_cache_s
        )
    elif pb.token:
        auth = await postback_auth.by_token(
            services.pool, pb.token, services.settings.postback_auth_cache_s
        )
    if auth is None:
        raise refuse(401, "unknown_advertiser", "unknown advertiser or wrong credentials",
                     "advertiser_id", adv_id, request)  # fmt: skip
    peer = request.client.host if request.client else None
    trusted = networks(services.settings.trusted_proxies)
    addr = client_ip(peer, ",".join(request.headers.getlist("x-forwarded-for")), trusted,
                     ",".join(request.headers.getlist("forwarded")))  # fmt: skip
    if not allowed(addr, auth.ip_allowlist):
        raise refuse(403, "ip_not_allowed", f"address {addr} may not send postbacks",
                     None, auth.advertiser_id, request)  # fmt: skip
    params = dict(pairs)
    signature = request.headers.get("x-signature") or params.get("signature") or params.get("sig")
    keys = auth.secrets(datetime.now(UTC))
    if signature and keys:
        ts = request.headers.get("x-timestamp") or params.get("ts") or ""
        for secret in keys:  # the current secret, then the previous one during its overlap
            why = signatures.verify(secret, signature, ts, time.time(), request.method,
                                    request.url.path, pairs, body)  # fmt: skip
            if why != "bad_signature":
                break
        if why is not None:
            raise refuse(401, why, f"signature refused: {why}", "signature", auth.advertiser_id,
                         request)  # fmt: skip
        await _not_replayed(services, request, auth, signature)
        return auth
    if auth.require_signature:
        raise refuse(401, "signature_required", "this advertiser's postbacks must be signed",
                     "signature", auth.advertiser_id, request)  # fmt: skip
    token = request.headers.get("x-postback-token") or pb.token or ""
    if not hmac.compare_digest(auth.token.encode(), token.encode()):
        raise refuse(401, "bad_token", "unknown advertiser or wrong postback token", "token",
                     auth.advertiser_id, request)  # fmt: skip
    return auth


async def _not_replayed(
    services: Services, request: Request, auth: AdvertiserAuth, sig: str
) -> None:
    # The signature as verified, not as sent: "sha256=<hex>", "<HEX>" and "<hex>" are one.
    digest = hashlib.sha256(signatures.normalize(sig).encode()).hexdigest()[:32]
    key = redis_keys.of(services.settings).postback_signature(auth.advertiser_id, digest)
    try:
        fresh = await services.redis.set(key, b"1", nx=True, ex=2 * signatures.MAX_SKEW_S + 60)
    except Exception as exc:
        if not away(exc):
            raise
        raise ApiProblem(503, "unavailable", "postback not stored, please retry",
                         headers={"Retry-After": "5"}) from None  # fmt: skip
    if not fresh:
        raise refuse(401, "replayed", "signature refused: replayed", "signature",
                     auth.advertiser_id, request)  # fmt: skip
