"""Rendering a partner's postback request from a conversion event (pure, shared by the
sender's outbox and the API's test mode)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from tracker.domain.macros import compile_template


def network_param(name: str) -> bool:
    """``trk_*`` parameters are the network's own: they never leave the tracker."""
    return name[:4].lower() == "trk_"


@dataclass(frozen=True, slots=True)
class ConversionFacts:
    conversion_id: str
    txn_id: str
    goal: str
    status: str
    payout: Decimal
    currency: str
    offer_id: int
    aff_id: int
    click_id: str | None
    created_at: datetime
    subs: tuple[str | None, ...] = ()
    source: str | None = None
    params: Mapping[str, str] | None = None

    def macro_values(self) -> dict[str, str | None]:
        values: dict[str, str | None] = {
            "conversion_id": self.conversion_id,
            "txn_id": self.txn_id,
            "goal": self.goal,
            "status": self.status,
            "payout": f"{self.payout:f}",
            "currency": self.currency,
            "offer_id": str(self.offer_id),
            "aff_id": str(self.aff_id),
            "click_id": self.click_id,
            "source": self.source,
            "timestamp": str(int(self.created_at.timestamp())),
        }
        for i in range(10):
            values[f"sub{i + 1}"] = self.subs[i] if i < len(self.subs) else None
        for name, value in self.public_params().items():
            values[f"p:{name}"] = value
        return values

    def public_params(self) -> dict[str, str]:
        """The visitor's parameters a partner may receive: never the network's ``trk_*``."""
        return {k: v for k, v in (self.params or {}).items() if not network_param(k)}


def render(url_template: str, method: str, facts: ConversionFacts) -> tuple[str, bytes | None]:
    """The URL (macros percent-encoded) and, for POST, the JSON body."""
    values = facts.macro_values()
    url = compile_template(url_template).fill(values)
    if method == "POST":
        body: dict[str, Any] = {k: v for k, v in values.items() if not k.startswith("p:")}
        body["params"] = facts.public_params()
        return url, orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return url, None
