"""Signatures on outgoing postbacks, so partners can verify they come from us.

POST: headers ``X-Tracker-Id``, ``X-Tracker-Timestamp`` and
``X-Tracker-Signature: sha256=<hex>`` where the MAC is HMAC-SHA256 with the
partner's secret over ``"{id}.{timestamp}.{body}"``.
GET: the same MAC over ``"{id}.{timestamp}."`` plus the full URL, appended as
``trk_ts`` and ``trk_sig`` query parameters when the setting asks for it.
"""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, delivery_id: str, timestamp: int, body: bytes) -> str:
    msg = f"{delivery_id}.{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def verify(secret: str, delivery_id: str, timestamp: int, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, delivery_id, timestamp, body), signature)


def sign_url(secret: str, delivery_id: str, timestamp: int, url: str) -> str:
    sig = sign(secret, delivery_id, timestamp, url.encode())
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}trk_id={delivery_id}&trk_ts={timestamp}&trk_sig={sig[7:]}"


def signed_request(
    method: str, url: str, body: bytes | None, secret: str, sign_get: bool, delivery_id: str,
    timestamp: int,
) -> tuple[str, dict[str, str]]:  # fmt: skip
    """The URL and headers a delivery goes out with: the sender uses this, and the API's
    test mode shows exactly it."""
    headers = {"X-Tracker-Id": delivery_id, "X-Tracker-Timestamp": str(timestamp)}
    if method == "POST":
        headers["X-Tracker-Signature"] = sign(secret, delivery_id, timestamp, body or b"")
    elif sign_get:
        url = sign_url(secret, delivery_id, timestamp, url)
    return url, headers
