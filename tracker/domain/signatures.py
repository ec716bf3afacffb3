"""HMAC-SHA256 signatures of postbacks, with a timestamp (pure, no I/O).

The merchant signs ``"{ts}\\n{METHOD}\\n{path}\\n{canonical query}\\n{sha256(body)}"``
with its secret and sends ``ts`` and ``signature`` (query parameters or the
``X-Timestamp`` / ``X-Signature`` headers). The canonical query is every
parameter except ``signature``, sorted, percent-encoded. Replays inside the
±300 s window are refused by the caller, which remembers each signature.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import quote

MAX_SKEW_S = 300
SIGNATURE_PARAMS = frozenset({"signature", "sig"})


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    kept = sorted((k, v) for k, v in pairs if k not in SIGNATURE_PARAMS)
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in kept)


def message(
    ts: str, method: str, path: str, pairs: Iterable[tuple[str, str]], body: bytes
) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{ts}\n{method.upper()}\n{path}\n{canonical_query(pairs)}\n{digest}".encode()


def sign(
    secret: str, ts: str, method: str, path: str, pairs: Iterable[tuple[str, str]], body: bytes
) -> str:
    return hmac.new(secret.encode(), message(ts, method, path, pairs, body), "sha256").hexdigest()


def normalize(signature: str) -> str:
    """The hex digest a signature header or parameter carries (``sha256=`` prefix, case and
    spaces removed): what is verified and what the replay guard remembers, so that one
    signature sent in another spelling is the same signature."""
    given = signature.strip()
    if given[:7].lower() == "sha256=":
        given = given[7:]
    return given.strip().lower()


def verify(
    secret: str,
    signature: str,
    ts: str,
    now: float,
    method: str,
    path: str,
    pairs: Iterable[tuple[str, str]],
    body: bytes,
) -> str | None:
    """None when valid, else the reason: ``bad_timestamp``, ``stale``, ``bad_signature``."""
    try:
        when = int(ts)
    except ValueError:
        return "bad_timestamp"
    if abs(now - when) > MAX_SKEW_S:
        return "stale"
    expected = sign(secret, ts, method, path, pairs, body)
    given = normalize(signature)
    # compare_digest needs ASCII text; anything else cannot be a valid hex digest.
    if not given.isascii() or not hmac.compare_digest(expected, given):
        return "bad_signature"
    return None
