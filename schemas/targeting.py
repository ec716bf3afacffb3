"""API models of offer and route targeting (issue 20, docs/adr/0110): the stored form
tracker.domain.targeting compiles for the redirect."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from schemas.types import WHOLE, known_zone, never_null

# The closed sets targeting names (tracker.domain.agents maps ua-parser's families on them).
Device = Literal["desktop", "mobile", "tablet", "other"]
OsFamily = Literal["windows", "macos", "ios", "android", "linux", "chromeos", "other"]
Browser = Literal["chrome", "safari", "firefox", "edge", "opera", "samsung", "ie", "yandex", "uc",
                  "other"]  # fmt: skip
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_CODES = "checked against the ISO data of the pinned `pycountry` package"
CountryCode = Annotated[str, Field(
    pattern=r"^[A-Z]{2}$", examples=["US"],
    description=f"ISO 3166-1 alpha-2 (and XK, Kosovo, as GeoIP databases name it); {_CODES}",
)]  # fmt: skip
RegionCode = Annotated[str, Field(
    pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$", examples=["US-CA"],
    description=f"ISO 3166-2 subdivision, as the GeoIP database names the region; {_CODES}",
)]  # fmt: skip
LanguageCode = Annotated[str, Field(
    pattern=r"^[a-z]{2}$", examples=["de"],
    description="ISO 639-1: the visitor's first Accept-Language choice, its primary subtag; "
    + _CODES,
)]  # fmt: skip


class _Match(BaseModel):
    """Exactly one of ``allow`` and ``deny`` (OpenAPI: one property)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"minProperties": 1, "maxProperties": 1}
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> _Match:
        given = [n for n in ("allow", "deny") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give either allow or deny (a list of values), not both")
        return self

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, v: object) -> object:
        return never_null(v)


Countries = Annotated[list[CountryCode], Field(min_length=1, max_length=300)]
Regions = Annotated[list[RegionCode], Field(min_length=1, max_length=1000)]
Devices = Annotated[list[Device], Field(min_length=1, max_length=4)]
OsList = Annotated[list[OsFamily], Field(min_length=1, max_length=7)]
Browsers = Annotated[list[Browser], Field(min_length=1, max_length=10)]
Languages = Annotated[list[LanguageCode], Field(min_length=1, max_length=200)]


class CountryMatch(_Match):
    allow: Countries | SkipJsonSchema[None] = None
    deny: Countries | SkipJsonSchema[None] = None


class RegionMatch(_Match):
    allow: Regions | SkipJsonSchema[None] = None
    deny: Regions | SkipJsonSchema[None] = None


class DeviceMatch(_Match):
    allow: Devices | SkipJsonSchema[None] = None
    deny: Devices | SkipJsonSchema[None] = None


class OsMatch(_Match):
    allow: OsList | SkipJsonSchema[None] = None
    deny: OsList | SkipJsonSchema[None] = None


class BrowserMatch(_Match):
    allow: Browsers | SkipJsonSchema[None] = None
    deny: Browsers | SkipJsonSchema[None] = None


class LanguageMatch(_Match):
    allow: Languages | SkipJsonSchema[None] = None
    deny: Languages | SkipJsonSchema[None] = None


class ScheduleIn(BaseModel):
    """Days and hours (local to ``time_zone``) when the offer or route takes traffic."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"anyOf": [{"required": ["days"]}, {"required": ["hours"]}]},
    )

    time_zone: str = Field("UTC", max_length=64, description="IANA time zone the days and "
                           "hours are read in", examples=["America/New_York"])  # fmt: skip
    days: Annotated[list[Weekday], Field(min_length=1, max_length=7)] | SkipJsonSchema[None] = None
    hours: Annotated[list[Annotated[int, Field(ge=0, le=23), WHOLE]],
                     Field(min_length=1, max_length=24)] | SkipJsonSchema[None] = None  # fmt: skip

    @field_validator("days", "hours", mode="before")
    @classmethod
    def _not_null(cls, v: object) -> object:
        return never_null(v)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return known_zone(v)

    @model_validator(mode="after")
    def _something(self) -> ScheduleIn:
        if self.days is None and self.hours is None:
            raise ValueError("give days, hours or both")
        return self


_TARGETING = (
    "Who this takes (absent dimensions: everyone). Each dimension allows or denies a list; "
    "a visitor whose value is unknown (no GeoIP answer, an agent ua-parser does not know) "
    "fails an allow list and passes a deny list. Traffic that does not match goes to the "
    "fallback (an offer's: recorded as a `blocked` click with `traffic_rule` "
    "`targeting:<dimension>`, never paid; a smart-link route's: the next route)."
)


class TargetingIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"description": _TARGETING,
                           "examples": [{"countries": {"allow": ["US", "CA"]},
                                         "devices": {"allow": ["mobile", "tablet"]},
                                         "datacenter": "deny",
                                         "schedule": {"time_zone": "America/New_York",
                                                      "days": ["mon", "tue", "wed", "thu", "fri"],
                                                      "hours": [9, 10, 11, 12, 13, 14, 15, 16]}}]},
    )  # fmt: skip

    countries: CountryMatch | SkipJsonSchema[None] = None
    regions: RegionMatch | SkipJsonSchema[None] = None
    devices: DeviceMatch | SkipJsonSchema[None] = None
    os: OsMatch | SkipJsonSchema[None] = None
    browsers: BrowserMatch | SkipJsonSchema[None] = None
    languages: LanguageMatch | SkipJsonSchema[None] = None
    datacenter: Literal["deny", "only"] | SkipJsonSchema[None] = Field(
        None, description="hosting/cloud networks (TRACKER_ASN_DB): deny them, or take only them"
    )
    schedule: ScheduleIn | SkipJsonSchema[None] = None

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, v: object) -> object:
        return never_null(v)


class Match(BaseModel):
    allow: list[str] | None = None
    deny: list[str] | None = None


class Schedule(BaseModel):
    time_zone: str
    days: list[str] | None = None
    hours: list[int] | None = None


class Targeting(BaseModel):
    """Targeting as stored (see the input's description)."""

    countries: Match | None = None
    regions: Match | None = None
    devices: Match | None = None
    os: Match | None = None
    browsers: Match | None = None
    languages: Match | None = None
    datacenter: str | None = None
    schedule: Schedule | None = None


def targeting_json(t: TargetingIn | None) -> dict[str, object] | None:
    """The stored form: only the dimensions given; None when nothing is targeted."""
    if t is None:
        return None
    data = t.model_dump(exclude_none=True)
    return data or None
