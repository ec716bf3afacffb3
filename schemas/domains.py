"""API models of tracking domains: the hostnames the tracker answers on (issue 18)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.api import Domain
from schemas.types import Id


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NetworkDomainIn(_In):
    """Used where no advertiser's or partner's domain applies."""

    scope: Literal["network"]
    hostname: Domain


class AdvertiserDomainIn(_In):
    """The advertiser's links, pixels and SDK: a subdomain of its site (CNAME to the
    tracker) makes the click cookie first-party there."""

    scope: Literal["advertiser"]
    hostname: Domain
    advertiser_id: Id


class PartnerDomainIn(_In):
    """The partner's links (where no advertiser's domain applies)."""

    scope: Literal["partner"]
    hostname: Domain
    affiliate_id: Id


TrackingDomainIn = Annotated[
    NetworkDomainIn | AdvertiserDomainIn | PartnerDomainIn, Field(discriminator="scope")
]


class TrackingDomain(BaseModel):
    id: int
    hostname: str
    scope: Literal["network", "advertiser", "partner"]
    advertiser_id: int | None = None
    affiliate_id: int | None = None
    created_at: datetime


class TlsCheck(BaseModel):
    hostname: str = Field(description="a name the tracker answers on: a certificate may be issued")
