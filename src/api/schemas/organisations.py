"""Organisations, service agreements and sites."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field

from api.schemas.common import Id, ResponseModel, StrictModel
from booking.vocabulary import Country, Locale, OrganisationKind

Name = Annotated[str, Field(min_length=1, max_length=200)]
Region = Annotated[str, Field(min_length=1, max_length=100)]
TimeZoneName = Annotated[
    str, Field(min_length=1, max_length=64, description="IANA name, e.g. `Europe/Brussels`.")
]
Latitude = Annotated[
    float, Field(ge=-90, le=90, description="WGS 84; must lie within 48.8 to 51.6.")
]
Longitude = Annotated[
    float, Field(ge=-180, le=180, description="WGS 84; must lie within 1.4 to 6.5.")
]
FairnessWeight = Annotated[
    int,
    Field(
        ge=0,
        le=1000,
        description=(
            "Soft points per minute of the busiest provider's load in this service's plans "
            "(docs/problem.md, Fairness); 0 turns fairness off."
        ),
    ),
]
UrgentWithinHours = Annotated[
    int,
    Field(
        ge=0,
        le=720,
        description="A new request starting sooner than this is staffed by a repair at once.",
    ),
]
Postcode = Annotated[
    str, Field(min_length=4, max_length=10, description="4 digits in BE, 5 in FR.")
]


class OrganisationOut(ResponseModel):
    id: int
    name: str
    kind: OrganisationKind
    country: Country
    region: str | None
    timezone: str
    locale: Locale = Field(
        description="The language its people are written to by default (a new provider's)."
    )
    fairness_weight: int = Field(
        description="A providing service's weight of fair sharing in its plans (0: off)."
    )
    auto_offer: bool = Field(
        description="Whether a repair's proposals go out as offers at once (else on the board)."
    )
    urgent_within_hours: int = Field(
        description="How soon a new request must start to be staffed by a repair at once."
    )
    counts_idle: bool = Field(
        description="A providing service whose providers are salaried: the matcher counts "
        "their waiting between leaving home and coming back as cost."
    )
    created_at: dt.datetime


class OrganisationCreate(StrictModel):
    name: Name
    kind: OrganisationKind
    country: Country
    region: Region | None = None
    timezone: TimeZoneName | None = Field(
        default=None, description="Defaults to Europe/Brussels (BE) or Europe/Paris (FR)."
    )
    locale: Locale = Field(
        default=Locale.FR,
        description="The language of its people's messages by default (a new provider's).",
    )
    counts_idle: bool = Field(
        default=False,
        description="Providing services only: its providers are salaried (paid from leaving "
        "home to coming back), so plans avoid long waits between their sessions.",
    )


class OrganisationUpdate(StrictModel):
    """Only the fields sent change; the kind never does."""

    name: Name | None = None
    country: Country | None = None
    region: Region | None = None
    timezone: TimeZoneName | None = None
    locale: Locale | None = None
    fairness_weight: FairnessWeight | None = None
    auto_offer: bool | None = Field(
        default=None,
        description="A repair's proposals go out as offers at once (providing services).",
    )
    urgent_within_hours: UrgentWithinHours | None = None
    counts_idle: bool | None = Field(
        default=None, description="Providing services only: salaried (true) or freelance."
    )


class AgreementCreate(StrictModel):
    requesting_organisation_id: Id = Field(
        description="The requesting organisation this providing service will serve."
    )


class AgreementOut(ResponseModel):
    id: int
    providing_org_id: int
    requesting_org_id: int
    created_at: dt.datetime


class SiteOut(ResponseModel):
    id: int
    organisation_id: int
    name: str
    address: str
    postcode: str
    town: str
    country: Country
    region: str | None
    lat: float
    lon: float


class SiteCreate(StrictModel):
    organisation_id: Id
    name: Name
    address: Annotated[str, Field(min_length=1, max_length=300)]
    postcode: Postcode
    town: Annotated[str, Field(min_length=1, max_length=100)]
    country: Country
    region: Region | None = None
    lat: Latitude
    lon: Longitude


class SiteUpdate(StrictModel):
    """Only the fields sent change."""

    name: Name | None = None
    address: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    postcode: Postcode | None = None
    town: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    country: Country | None = None
    region: Region | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
