"""One hit as the redirect reads it: query parameters, headers, the click event.

Nothing here can fail for the visitor: values are cropped, surplus
parameters ignored, undecodable bytes replaced. The event dict is built by
hand in the shape of ``schemas.events.ClickEvent`` (wire format v1).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote_plus

from redirect.clickid import ClickIds
from tracker.domain.classify import classify, device_of
from tracker.domain.client_ip import ClientAddress
from tracker.domain.macros import encode

MAX_PARAMS = 20  # custom parameters kept per hit (wire format bound)
MAX_NAME = 64
MAX_VALUE = 255  # sub-ids, source and custom values are cropped to this
MAX_QUERY = 8192  # characters of the query string looked at
MAX_FIELDS = 64  # name=value pairs looked at
_IDS = ClickIds()
_SUBS = {f"sub{i}": i - 1 for i in range(1, 11)}
RESERVED = frozenset({*_SUBS, "source", "url"})  # not custom parameters
FORM_PARAMS = frozenset({"offer_id", "aff_id", "affiliate_id"})  # /click?offer_id=…&aff_id=…
_UA, _REFERER, _PURPOSE, _LANG, _XFF, _FORWARDED = range(6)
# Prefetch and preview announce themselves in one of four headers (Chrome and the spec:
# Sec-Purpose / Purpose; Firefox: X-Moz; Safari: X-Purpose).
_HEADERS = {b"user-agent": _UA, b"referer": _REFERER, b"purpose": _PURPOSE,
            b"sec-purpose": _PURPOSE, b"x-moz": _PURPOSE, b"x-purpose": _PURPOSE,
            b"accept-language": _LANG, b"x-forwarded-for": _XFF,
            b"forwarded": _FORWARDED}  # fmt: skip
_NO_PROXIES = ClientAddress([])


class Hit:
    """What the request carries, parsed once."""

    __slots__ = ("cls", "country", "deep_url", "ev", "ip", "lang", "method", "params", "query",
                 "referer", "source", "subs", "ua")  # fmt: skip

    def __init__(self, scope: dict[str, Any], country_header: bytes | None,
                 addresses: ClientAddress = _NO_PROXIES) -> None:  # fmt: skip
        method = scope["method"]
        ua = referer = purpose = lang = country = xff = forwarded = ""
        wanted = _HEADERS.get
        for name, value in scope["headers"]:
            slot = wanted(name)  # one hash lookup per header, not one test per field
            if slot is None:
                if name == country_header:
                    country = value.decode("latin-1")[:2].upper()
            elif slot == _UA:
                ua = value.decode("latin-1")[:1024]
            elif slot == _REFERER:
                referer = value.decode("latin-1")[:1024]
            elif slot == _PURPOSE:
                purpose = value.decode("latin-1")[:64]
            elif slot == _LANG:
                lang = value.decode("latin-1")[:64]
            elif slot == _XFF:  # several headers are one list, in order
                xff = f"{xff},{value.decode('latin-1')}" if xff else value.decode("latin-1")
            else:
                forwarded = (
                    f"{forwarded},{value.decode('latin-1')}"
                    if forwarded
                    else value.decode("latin-1")
                )
        client = scope.get("client")
        peer = client[0] if client else ""
        # The client's address: the peer's, or what a trusted proxy says (client_ip).
        self.ip = addresses.of(peer, xff[:2048], forwarded[:2048]) if addresses.enabled else peer
        self.method = method
        self.ua, self.referer, self.lang, self.country = ua, referer, lang, country
        self.cls = classify(method, ua, purpose)
        self.subs: list[str | None] = [None] * 10
        self.source = ""
        self.deep_url = ""
        self.params: dict[str, str] = {}
        self.query: dict[str, str] = {}  # the /click form's own parameters
        self.ev: dict[str, Any] = {}  # the event made of this hit (for macros)
        qs = scope["query_string"]
        if qs:
            self._parse(qs.decode("latin-1")[:MAX_QUERY])

    def _parse(self, qs: str) -> None:
        # parse_qsl's rules (``&`` only, ``+`` is a space, bad UTF-8 replaced,
        # blank values dropped), without its cost when nothing is escaped.
        params = self.params
        for field in qs.split("&", MAX_FIELDS)[:MAX_FIELDS]:
            name, _, value = field.partition("=")
            if "%" in value or "+" in value:
                value = unquote_plus(value)
            if not value:
                continue
            if "%" in name or "+" in name:
                name = unquote_plus(name)
            i = _SUBS.get(name)
            if i is not None:
                if self.subs[i] is None:
                    self.subs[i] = value[:MAX_VALUE]
            elif name == "source":
                self.source = self.source or value[:MAX_VALUE]
            elif name == "url":
                self.deep_url = self.deep_url or value[:4096]
            elif name in FORM_PARAMS:
                self.query.setdefault(name, value[:32])
            elif len(params) < MAX_PARAMS:
                params.setdefault(name[:MAX_NAME], value[:MAX_VALUE])

    def fill_defaults(self, defaults: tuple[str | None, ...]) -> None:
        """The link's default sub-ids, where the visitor sent none."""
        subs = self.subs
        for i, default in enumerate(defaults):
            if subs[i] is None and default:
                subs[i] = default

    def event(self, kind: str, link_id: int | None, link_code: str, offer_id: int, aff_id: int,
              defaults: tuple[str | None, ...], rule: str = "") -> dict[str, Any]:  # fmt: skip
        """The hit as a wire-format v1 event, with a fresh UUIDv7 id."""
        subs = self.subs
        if defaults:
            self.fill_defaults(defaults)
        click_id, ms = _IDS.new()
        self.ev = ev = {
            "click_id": click_id,
            "ts": ms / 1000,
            "kind": kind,
            "link_id": link_id,
            "link_code": link_code,
            "offer_id": offer_id,
            "aff_id": aff_id,
            "subs": subs,
            "source": self.source,
            "params": self.params,
            "ip": self.ip,
            "ua": self.ua,
            "referer": self.referer,
            "lang": self.lang,
            "cls": self.cls,
            "rule": rule,
        }
        return ev

    def fallback(self, offer_id: int, aff_id: int, link_code: str) -> Hit:
        """Ready to fill a fallback URL: the same values, no click id (nothing recorded)."""
        self.ev = {"click_id": "", "aff_id": aff_id, "offer_id": offer_id,
                   "link_code": link_code, "ts": time.time()}  # fmt: skip
        return self

    def get(self, name: str, /) -> str | None:
        """A macro's value (after ``event`` or ``fallback``); templates encode it."""
        field = _EVENT_FIELDS.get(name)
        if field is not None:
            return str(self.ev[field])
        i = _SUBS.get(name)
        if i is not None:
            return self.subs[i]
        if name == "device":
            return device_of(self.ua)
        if name.startswith("p:"):
            key = name[2:]
            return None if key.startswith("trk_") else self.params.get(key)
        if name == "source":
            return self.source
        if name == "country":
            return self.country
        if name == "timestamp":
            return str(int(self.ev["ts"]))
        return None


_EVENT_FIELDS = {"click_id": "click_id", "aff_id": "aff_id", "offer_id": "offer_id",
                 "link_code": "link_code"}  # fmt: skip


def append_params(url: str, params: dict[str, str]) -> str:
    """Pass the visitor's custom parameters on (never ``trk_*``), before any fragment."""
    extra = "&".join(
        f"{encode(k)}={encode(v)}" for k, v in params.items() if not k.startswith("trk_")
    )
    if not extra:
        return url
    base, sep, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    if base.endswith(("?", "&")):
        joiner = ""
    return f"{base}{joiner}{extra}{sep}{fragment}"
