"""Fixed responses of the redirect: small HTML pages and the 1x1 GIF."""

from __future__ import annotations

from typing import Any

NO_STORE = (b"cache-control", b"no-store, no-cache, must-revalidate, max-age=0")
PRAGMA = (b"pragma", b"no-cache")
NO_CONTENT = (b"content-length", b"0")
# The body message of a 302, shared by every redirect: servers only read it.
EMPTY_BODY: dict[str, Any] = {"type": "http.response.body", "body": b""}

NOT_FOUND = (
    b"<!doctype html><html><head><meta charset=utf-8><title>Link not found</title></head>"
    b"<body><h1>Link not found</h1><p>This tracking link does not exist.</p></body></html>"
)
UNAVAILABLE = (
    b"<!doctype html><html><head><meta charset=utf-8><title>Offer unavailable</title></head>"
    b"<body><h1>Offer unavailable</h1><p>This offer is not running right now.</p></body></html>"
)
GONE = (
    b"<!doctype html><html><head><meta charset=utf-8><title>Offer ended</title></head>"
    b"<body><h1>Offer ended</h1><p>This offer has ended.</p></body></html>"
)
# The smallest transparent 1x1 GIF (43 bytes).
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)

Message = dict[str, Any]


def page(status: int, body: bytes, head: bool = False) -> tuple[Message, Message]:
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            NO_STORE,
        ],
    }
    return start, {"type": "http.response.body", "body": b"" if head else body}


def pixel(head: bool = False) -> tuple[Message, Message]:
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", b"image/gif"),
            (b"content-length", b"43"),
            NO_STORE,
            PRAGMA,
            (b"expires", b"0"),
        ],
    }
    return start, {"type": "http.response.body", "body": b"" if head else GIF}


def redirect(location: bytes, cookie: bytes | None = None) -> tuple[Message, Message]:
    # A 302 is not stored by caches unless told to (RFC 9111 §3): no cache-control needed.
    headers = [(b"location", location), NO_CONTENT]
    if cookie is not None:
        headers.append((b"set-cookie", cookie))
    start = {"type": "http.response.start", "status": 302, "headers": headers}
    return start, {"type": "http.response.body", "body": b""}
