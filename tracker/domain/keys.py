"""API keys: random, shown once, stored as a SHA-256 hash.

A key is ``trk_<prefix>_<secret>``; the prefix finds the row, the hash of
the whole key is compared in constant time. Keys carry 190+ bits of
entropy, so a fast hash is enough (no password stretching needed).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

ROLES = ("admin", "advertiser", "affiliate")
SCOPES = ("read", "write")


@dataclass(frozen=True, slots=True)
class NewKey:
    prefix: str
    secret: str
    hash: str

    @property
    def token(self) -> str:
        return f"trk_{self.prefix}_{self.secret}"


def new_key() -> NewKey:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = f"trk_{prefix}_{secret}"
    return NewKey(prefix, secret, hash_key(token))


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_prefix(token: str) -> str | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "trk" or len(parts[1]) != 12:
        return None
    return parts[1]


def matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(token), stored_hash)
