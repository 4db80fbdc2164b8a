"""Demo data that looks like the field: services, reception centres, providers, two weeks of work.

Deterministic from a seed (and the first Monday it plans from), so a demo, a
screenshot or a bug report can be replayed. It refuses to touch a database
that already holds organisations or users: demo rows must never mix with
real ones.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.bookings.reference import ALPHABET
from booking.models import (
    Assignment,
    AvailabilityException,
    AvailabilityRule,
    Booking,
    BookingPlace,
    BookingProviderPreference,
    Language,
    Organisation,
    Provider,
    ProviderLanguage,
    ServiceAgreement,
    Site,
    User,
)
from booking.users.service import hash_password
from matching.towns import Town, load_towns

DEMO_PASSWORD = "demo"
DEMO_DOMAIN = "demo.truchement.eu"
PROVIDER_DOMAIN = "example.org"
"""Providers' own addresses: a domain reserved for examples (RFC 2606), so no demo mail
can land in a real mailbox."""
ZONE = ZoneInfo("Europe/Brussels")


class DemoRefused(Exception):
    """The database already holds data; seeding demo rows into it would mix them with real ones."""


@dataclass(frozen=True)
class DemoLanguage:
    code: str
    name_fr: str
    name_nl: str
    name_en: str
    demand: float
    """Relative share of requests, after field reports from Calais and SéTIS."""
    speakers: int
    """How many demo providers speak it: few for the rarest."""


LANGUAGES: tuple[DemoLanguage, ...] = (
    DemoLanguage("ara", "arabe", "Arabisch", "Arabic", 18, 14),
    DemoLanguage("prs", "dari", "Dari", "Dari", 12, 8),
    DemoLanguage("pus", "pachto", "Pasjtoe", "Pashto", 10, 6),
    DemoLanguage("tir", "tigrigna", "Tigrinya", "Tigrinya", 10, 6),
    DemoLanguage("fas", "persan (farsi)", "Perzisch (Farsi)", "Persian (Farsi)", 6, 5),
    DemoLanguage("som", "somali", "Somalisch", "Somali", 5, 4),
    DemoLanguage("amh", "amharique", "Amhaars", "Amharic", 4, 3),
    DemoLanguage("ckb", "kurde sorani", "Soranî-Koerdisch", "Kurdish (Sorani)", 4, 3),
    DemoLanguage("kmr", "kurde kurmandji", "Kurmanci-Koerdisch", "Kurdish (Kurmanji)", 3, 3),
    DemoLanguage("rus", "russe", "Russisch", "Russian", 4, 5),
    DemoLanguage("ukr", "ukrainien", "Oekraïens", "Ukrainian", 4, 4),
    DemoLanguage("tur", "turc", "Turks", "Turkish", 3, 4),
    DemoLanguage("sqi", "albanais", "Albanees", "Albanian", 3, 3),
    DemoLanguage("urd", "ourdou", "Urdu", "Urdu", 2, 2),
    DemoLanguage("pan", "pendjabi", "Punjabi", "Punjabi", 2, 2),
    DemoLanguage("hye", "arménien", "Armeens", "Armenian", 2, 2),
    DemoLanguage("che", "tchétchène", "Tsjetsjeens", "Chechen", 1.5, 1),
    DemoLanguage("lin", "lingala", "Lingala", "Lingala", 2, 2),
    DemoLanguage("swa", "swahili", "Swahili", "Swahili", 1.5, 2),
    DemoLanguage("pol", "polonais", "Pools", "Polish", 1.5, 2),
    DemoLanguage("tzm", "tamazight", "Tamazight", "Tamazight", 1, 1),
    DemoLanguage("orm", "oromo", "Oromo", "Oromo", 1, 1),
    DemoLanguage("kat", "géorgien", "Georgisch", "Georgian", 1, 0),
)


@dataclass(frozen=True)
class DemoOrganisation:
    key: str
    name: str
    kind: str
    country: str
    region: str
    town: str
    served_by: tuple[str, ...] = ()


ORGANISATIONS: tuple[DemoOrganisation, ...] = (
    DemoOrganisation("setis", "SéTIS wallon", "providing", "BE", "Wallonia", "Namur"),
    DemoOrganisation(
        "hdf",
        "Interprétariat social Hauts-de-France",
        "providing",
        "FR",
        "Hauts-de-France",
        "Lille",
    ),
    DemoOrganisation(
        "wvl", "Sociaal Tolken West-Vlaanderen", "providing", "BE", "Flanders", "Kortrijk"
    ),
    DemoOrganisation(
        "cresam",
        "CRéSaM, équipe mobile de Wallonie picarde",
        "requesting",
        "BE",
        "Wallonia",
        "Tournai",
        ("setis",),
    ),
    DemoOrganisation(
        "mouscron",
        "Centre d'accueil Croix-Rouge de Mouscron",
        "requesting",
        "BE",
        "Wallonia",
        "Mouscron",
        ("setis", "wvl"),
    ),
    DemoOrganisation(
        "caes",
        "CAES de Croisilles",
        "requesting",
        "FR",
        "Hauts-de-France",
        "Croisilles",
        ("hdf",),
    ),
    DemoOrganisation(
        "savi",
        "SAVI de Condette (mineurs non accompagnés)",
        "requesting",
        "FR",
        "Hauts-de-France",
        "Condette",
        ("hdf",),
    ),
    DemoOrganisation(
        "lva",
        "La Vie Active, équipe mobile psychosociale",
        "requesting",
        "FR",
        "Hauts-de-France",
        "Arras",
        ("hdf", "setis"),
    ),
    DemoOrganisation(
        "calais",
        "Accueil de jour de Calais",
        "requesting",
        "FR",
        "Hauts-de-France",
        "Calais",
        ("hdf",),
    ),
    DemoOrganisation(
        "kortrijk",
        "OCMW Kortrijk, dienst vluchtelingen",
        "requesting",
        "BE",
        "Flanders",
        "Kortrijk",
        ("wvl",),
    ),
)

FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "f": (
        "Amina",
        "Leila",
        "Saba",
        "Nadia",
        "Olena",
        "Zahra",
        "Meron",
        "Hawa",
        "Selam",
        "Lina",
        "Hiwet",
        "Mariam",
        "Rania",
        "Senait",
    ),
    "m": (
        "Yonas",
        "Farid",
        "Hamid",
        "Dawit",
        "Karim",
        "Idris",
        "Samir",
        "Rahim",
        "Omar",
        "Tesfay",
        "Aziz",
        "Bilal",
        "Yusuf",
        "Ahmad",
        "Habib",
    ),
    # Names given to girls and boys alike, for providers who state neither gender.
    "x": ("Nour", "Amal", "Iman", "Sasha", "Eden", "Shadi"),
}
"""First names by the gender the provider states, so a name never contradicts it."""
LAST_NAMES = (
    "Haddad",
    "Tesfaye",
    "Rahimi",
    "Ahmadzai",
    "Mohamed",
    "Kebede",
    "Yousufi",
    "Bakr",
    "Kovalenko",
    "Osman",
    "Hosseini",
    "Gebremedhin",
    "Nazari",
    "Benali",
    "Abdi",
    "Karimi",
)
SESSION_KINDS = (
    ("psychological", 30),
    ("medical", 20),
    ("social", 25),
    ("legal", 10),
    ("group", 5),
    ("minors_activity", 10),
)


def database_is_empty(db: Session) -> bool:
    """No organisation and no user yet: the first start of a fresh service."""
    organisations = db.scalar(select(func.count()).select_from(Organisation)) or 0
    users = db.scalar(select(func.count()).select_from(User)) or 0
    return organisations == 0 and users == 0


def next_monday(today: dt.date) -> dt.date:
    return today + dt.timedelta(days=(7 - today.weekday()) % 7 or 7)


def seed_demo_data(db: Session, *, seed: int = 7, first_day: dt.date | None = None) -> str:
    """Create the demo and return what a person needs to sign in, as printable text."""
    if not database_is_empty(db):
        raise DemoRefused(
            "the database already holds organisations or users; "
            "demo data only goes into an empty database"
        )
    rng = random.Random(seed)
    first_day = first_day or next_monday(dt.datetime.now(ZONE).date())
    towns = {t.name: t for t in load_towns()}
    password = hash_password(DEMO_PASSWORD)

    for lang in LANGUAGES:
        db.add(
            Language(
                code=lang.code,
                name_fr=lang.name_fr,
                name_nl=lang.name_nl,
                name_en=lang.name_en,
                is_rare=lang.speakers <= 2,
            )
        )
    orgs = _organisations(db, towns)
    sites = _sites(db, rng, orgs, towns)
    users = _users(db, orgs, password)
    providers = _providers(db, rng, orgs, towns, users["provider"])
    bookings = _bookings(db, rng, first_day, orgs, sites, users)
    confirmed = _confirmed_work_for_demo_provider(db, providers[0], bookings, users["dispatcher"])
    served = {orgs[spec.key].id for spec in ORGANISATIONS if "setis" in spec.served_by}
    _follow_ups_with_the_demo_provider(db, providers[0], bookings, first_day, served)
    # Last, so the random requests above stay as they were for a seed.
    bookings += _group_and_ladder(db, rng, first_day, orgs["cresam"], sites["cresam"][0], users)
    db.flush()
    return _summary(len(providers), len(bookings), confirmed, first_day)


def _organisations(db: Session, towns: dict[str, Town]) -> dict[str, Organisation]:
    orgs: dict[str, Organisation] = {}
    for spec in ORGANISATIONS:
        town = towns[spec.town]
        org = Organisation(
            name=spec.name,
            kind=spec.kind,
            country=spec.country,
            region=spec.region,
            timezone="Europe/Paris" if town.country == "FR" else "Europe/Brussels",
            locale="nl" if spec.region == "Flanders" else "fr",
        )
        db.add(org)
        orgs[spec.key] = org
    db.flush()
    for spec in ORGANISATIONS:
        for provider_key in spec.served_by:
            db.add(
                ServiceAgreement(
                    providing_org_id=orgs[provider_key].id, requesting_org_id=orgs[spec.key].id
                )
            )
    return orgs


def _sites(
    db: Session, rng: random.Random, orgs: dict[str, Organisation], towns: dict[str, Town]
) -> dict[str, list[Site]]:
    """Each requesting organisation's own site, and for mobile teams a few places they visit."""
    extra_places = {
        "cresam": ("Mouscron", "Ath", "Péruwelz"),
        "lva": ("Lens", "Béthune", "Douai"),
        "calais": ("Dunkerque", "Grande-Synthe"),
        "mouscron": ("Comines-Warneton",),
        "kortrijk": ("Menen", "Roeselare"),
    }
    sites: dict[str, list[Site]] = {}
    for spec in ORGANISATIONS:
        if spec.kind != "requesting":
            continue
        org = orgs[spec.key]
        places = (spec.town, *extra_places.get(spec.key, ()))
        sites[spec.key] = []
        for number, town_name in enumerate(places, start=1):
            town = towns[town_name]
            site = Site(
                organisation_id=org.id,
                name=f"{spec.name} – {town.name}" if number > 1 else spec.name,
                address=f"{rng.randint(1, 120)} rue de la Gare",
                postcode=town.postcode or "0000",
                town=town.name,
                country=town.country,
                region=town.region,
                lat=round(town.lat + rng.uniform(-0.01, 0.01), 5),
                lon=round(town.lon + rng.uniform(-0.01, 0.01), 5),
            )
            db.add(site)
            sites[spec.key].append(site)
    db.flush()
    return sites


def _users(db: Session, orgs: dict[str, Organisation], password: str) -> dict[str, User]:
    """One demo user per role, plus a requester in every requesting organisation."""
    demo = {
        "admin": ("Alix Admin", "setis", "fr"),
        "dispatcher": ("Dominique Dispatch", "setis", "fr"),
        "requester": ("Rachida Requester", "cresam", "fr"),
        "provider": ("Yonas Tesfaye", "setis", "en"),
    }
    users: dict[str, User] = {}
    for role, (name, org_key, locale) in demo.items():
        user = User(
            organisation_id=orgs[org_key].id,
            email=f"{role}@{DEMO_DOMAIN}",
            full_name=name,
            role=role,
            locale=locale,
            # The provider's number lives on their provider record, not on the login.
            phone_e164=None if role == "provider" else "+32470000001",
            password_hash=password,
        )
        db.add(user)
        users[role] = user
    for spec in ORGANISATIONS:
        if spec.kind == "requesting" and spec.key != "cresam":
            user = User(
                organisation_id=orgs[spec.key].id,
                email=f"{spec.key}@{DEMO_DOMAIN}",
                full_name=f"Social worker, {spec.name}",
                role="requester",
                locale="nl" if spec.region == "Flanders" else "fr",
                password_hash=password,
            )
            db.add(user)
            users[f"requester:{spec.key}"] = user
    for key in ("hdf", "wvl"):
        user = User(
            organisation_id=orgs[key].id,
            email=f"dispatcher.{key}@{DEMO_DOMAIN}",
            full_name=f"Dispatcher {key.upper()}",
            role="dispatcher",
            locale="nl" if key == "wvl" else "fr",
            password_hash=password,
        )
        db.add(user)
    db.flush()
    return users


def _providers(
    db: Session,
    rng: random.Random,
    orgs: dict[str, Organisation],
    towns: dict[str, Town],
    demo_user: User,
) -> list[Provider]:
    """About 85 providers; speakers of the rarest languages are few, Georgian has none."""
    service_towns = {
        # SéTIS is Walloon-wide, but the demo's requests come from Wallonie picarde
        # and across the border: its interpreters live where that work is.
        "setis": ("Tournai", "Tournai", "Mouscron", "Mouscron", "Ath", "Péruwelz", "Mons"),
        "hdf": ("Lille", "Roubaix", "Arras", "Calais", "Boulogne-sur-Mer", "Lens", "Douai"),
        "wvl": ("Kortrijk", "Brugge", "Roeselare", "Ieper", "Oostende"),
    }
    # One speaker of every language first, all at SéTIS (the demo dispatcher's
    # service, which covers about 23 languages); then the others, spread over
    # the three services. The demo provider speaks Tigrinya (certified) so
    # their schedule has work in it.
    distinct = [lang.code for lang in LANGUAGES if lang.speakers and lang.code != "tir"]
    rng.shuffle(distinct)
    others = [lang.code for lang in LANGUAGES for _ in range(lang.speakers - 1)]
    rng.shuffle(others)
    first_languages = ["tir", *distinct, *others]
    rare = {lang.code for lang in LANGUAGES if lang.speakers <= 2}
    second_languages = [code for code in first_languages if code not in rare]
    count = len(first_languages)  # every language gets the speakers its row says
    providers: list[Provider] = []
    taken_names = {demo_user.full_name}
    for index in range(count):
        # Half of the rest at SéTIS too: the demo dispatcher's board should be mostly staffed.
        service = "setis" if index <= len(distinct) else ("setis", "hdf", "setis", "wvl")[index % 4]
        org = orgs[service]
        town = towns[rng.choice(service_towns[service])]
        kind = "ambassador" if rng.random() < 0.25 else "interpreter"
        if rng.random() < 0.05:
            kind = "mediator"
        primary = first_languages[index % len(first_languages)]
        codes = {primary}
        if rng.random() < 0.45:  # a second language, never a rare one: those stay rare
            codes.add(rng.choice(second_languages))
        gender = rng.choice(("f", "f", "m", "m", "x")) if index else "m"
        name = demo_user.full_name if index == 0 else _unique_name(rng, gender, taken_names)
        cross_border = rng.random() < (0.5 if service == "setis" else 0.25)
        provider = Provider(
            organisation_id=org.id,
            user_id=demo_user.id if index == 0 else None,
            display_name=name,
            kind=kind,
            gender=gender,
            skills=sorted(rng.sample(["trauma", "minors", "medical", "legal"], rng.randint(0, 2))),
            modalities=["onsite", "phone", "video"] if rng.random() < 0.9 else ["phone", "video"],
            home_lat=round(town.lat + rng.uniform(-0.04, 0.04), 5),
            home_lon=round(town.lon + rng.uniform(-0.06, 0.06), 5),
            home_town=town.name,
            countries=["BE", "FR"] if cross_border or index == 0 else [org.country],
            max_travel_minutes=rng.choice((45, 60, 75, 90, 120)),
            max_minutes_per_day=rng.choice((360, 420, 480)),
            max_minutes_per_week=rng.choice((1200, 1500, 1800, 2100)),
            email=demo_email(name, index),
            phone_e164=demo_phone(org.country, index),
            locale=demo_user.locale if index == 0 else org.locale,
        )
        db.add(provider)
        db.flush()
        for code in sorted(codes):
            certified = kind == "interpreter" and rng.random() < 0.7
            db.add(
                ProviderLanguage(provider_id=provider.id, language_code=code, certified=certified)
            )
        _availability(db, rng, provider, full_time=index == 0)
        providers.append(provider)
    return providers


def demo_email(display_name: str, index: int) -> str:
    """``selam.tesfaye.12@example.org``: the name in plain letters, the index keeps it unique."""
    plain = unicodedata.normalize("NFKD", display_name).encode("ascii", "ignore").decode()
    name = ".".join("".join(c for c in word if c.isalnum()) for word in plain.lower().split())
    return f"{name or 'provider'}.{index}@{PROVIDER_DOMAIN}"


def demo_phone(country: str, index: int) -> str:
    """A mobile number that reaches nobody, so demo SMS can be written but never bother anyone.

    France: Arcep's fiction range, 06 39 98 00 00 to 06 39 98 99 99. Belgium has no
    such range: +32 470 00 00 00 to 99 stand in for one; they are FICTITIOUS demo
    numbers, only ever written by the ``file`` SMS backend, never to be sent to a
    real gateway.
    """
    if country == "FR":
        return f"+33639980{index % 1000:03d}"
    return f"+324700000{index % 100:02d}"


def _unique_name(rng: random.Random, gender: str, taken: set[str]) -> str:
    """A full name that fits ``gender`` and no other provider has: two people with one name
    on a dispatcher's board would be mixed up."""
    free = [
        f"{first} {last}"
        for first in FIRST_NAMES[gender]
        for last in LAST_NAMES
        if f"{first} {last}" not in taken
    ]
    name = rng.choice(free)
    taken.add(name)
    return name


def _availability(
    db: Session, rng: random.Random, provider: Provider, *, full_time: bool = False
) -> None:
    """Mostly full weekdays; part-timers keep half days or a day off.

    The demo provider works full time, so the week's plan has room to offer
    them the follow-ups that ask for them.
    """
    days_off = set() if full_time else set(rng.sample(range(5), rng.choice((0, 0, 1, 2))))
    for weekday in range(5):
        if weekday in days_off:
            continue
        start = dt.time(8, 0) if full_time else dt.time(rng.choice((8, 8, 9)), rng.choice((0, 30)))
        end = dt.time(18, 0) if full_time else dt.time(rng.choice((12, 16, 17, 17, 18)), 0)
        db.add(
            AvailabilityRule(
                provider_id=provider.id, weekday=weekday, start_time=start, end_time=end
            )
        )


def _bookings(
    db: Session,
    rng: random.Random,
    first_day: dt.date,
    orgs: dict[str, Organisation],
    sites: dict[str, list[Site]],
    users: dict[str, User],
) -> list[Booking]:
    """Two working weeks of requests, about 18 a day, with windows, phone calls and series."""
    weights = [lang.demand for lang in LANGUAGES]
    kinds = [k for k, _ in SESSION_KINDS]
    kind_weights = [w for _, w in SESSION_KINDS]
    bookings: list[Booking] = []
    for day_offset in range(14):
        day = first_day + dt.timedelta(days=day_offset)
        if day.weekday() >= 5:
            continue
        for _ in range(rng.randint(14, 22)):
            org_key = rng.choice(list(sites))
            site = rng.choice(sites[org_key])
            requester = users["requester"] if org_key == "cresam" else users[f"requester:{org_key}"]
            lang = rng.choices(LANGUAGES, weights=weights)[0]
            kind = rng.choices(kinds, weights=kind_weights)[0]
            modality = rng.choices(("onsite", "phone", "video"), weights=(75, 18, 7))[0]
            duration = (
                rng.choice((30, 45)) if modality != "onsite" else rng.choice((60, 60, 90, 120))
            )
            start = dt.datetime.combine(
                day, dt.time(rng.randint(8, 15), rng.choice((0, 15, 30, 45))), tzinfo=ZONE
            )
            window = rng.random() < 0.3
            booking = Booking(
                reference=_reference(rng),
                organisation_id=orgs[org_key].id,
                site_id=site.id,
                requester_id=requester.id,
                language_code=lang.code,
                session_kind=kind,
                modality=modality,
                address=f"{site.address}, {site.postcode} {site.town}",
                location_lat=site.lat if modality == "onsite" else None,
                location_lon=site.lon if modality == "onsite" else None,
                location_country=site.country if modality == "onsite" else None,
                starts_at=start,
                duration_minutes=duration,
                window_earliest=start - dt.timedelta(hours=1) if window else None,
                window_latest=start + dt.timedelta(hours=1) if window else None,
                provider_kind="any" if rng.random() < 0.8 else "interpreter",
                required_gender="f"
                if kind in ("medical", "psychological") and rng.random() < 0.15
                else None,
                requires_certified=kind in ("legal", "medical") and rng.random() < 0.5,
                required_skills=["minors"] if kind == "minors_activity" else [],
                priority=rng.choices((1, 2, 3), weights=(80, 12, 8))[0],
                beneficiary_ref=f"b-{rng.getrandbits(24):06x}",
                status="requested",
                version_id=1,
            )
            db.add(booking)
            bookings.append(booking)
    db.flush()
    return bookings


DEMO_GROUP_LANGUAGES = ("pus", "tir", "ara")
"""The demo's group session: a collective action for minors in three languages at once."""
DEMO_VIDEO_LINK = "https://visio.example.org/r/cresam-demo"


def _group_and_ladder(
    db: Session,
    rng: random.Random,
    first_day: dt.date,
    org: Organisation,
    site: Site,
    users: dict[str, User],
) -> list[Booking]:
    """A group session for three languages and an onsite request that accepts video.

    Both are the demo requester's, for the demo dispatcher's service, in the
    first week: a new user sees on the board a group as one session with its
    places, and a plan staffs the second by video when nobody can come.
    """
    address = f"{site.address}, {site.postcode} {site.town}"
    requester = users["requester"]

    def request(day: int, hour: int, **fields: object) -> Booking:
        booking = Booking(
            reference=_reference(rng),
            organisation_id=org.id,
            site_id=site.id,
            requester_id=requester.id,
            modality="onsite",
            address=address,
            location_lat=site.lat,
            location_lon=site.lon,
            location_country=site.country,
            starts_at=dt.datetime.combine(
                first_day + dt.timedelta(days=day), dt.time(hour), tzinfo=ZONE
            ),
            provider_kind="any",
            required_skills=[],
            priority=1,
            beneficiary_ref=f"b-{rng.getrandbits(24):06x}",
            status="requested",
            version_id=1,
            **fields,
        )
        db.add(booking)
        return booking

    first, *others = DEMO_GROUP_LANGUAGES
    group = request(
        2,
        10,
        language_code=first,
        session_kind="group",
        duration_minutes=120,
        all_or_nothing=True,
    )
    group.places = [
        BookingPlace(position=n, language_code=code) for n, code in enumerate(others, start=1)
    ]
    ladder = request(
        3,
        14,
        language_code="tir",
        session_kind="psychological",
        duration_minutes=60,
        accepted_modalities=["video"],
        video_link=DEMO_VIDEO_LINK,
    )
    return [group, ladder]


def _confirmed_work_for_demo_provider(
    db: Session, provider: Provider, bookings: list[Booking], dispatcher: User
) -> int:
    """A few confirmed sessions so the provider's schedule and feed are not empty."""
    confirmed = _ask_for_the_demo_provider(
        db, provider, bookings, taken=[], admits=lambda b: b.window_earliest is None
    )
    for booking in confirmed:
        booking.status = "confirmed"
        db.add(
            Assignment(
                booking_id=booking.id,
                provider_id=provider.id,
                status="confirmed",
                starts_at=booking.starts_at,
                ends_at=_ends(booking),
                created_by_id=dispatcher.id,
                booking_version=booking.version_id,
                explanation={"summary": "Confirmed by the dispatcher (demo data)."},
            )
        )
    if len(confirmed) < 3:
        db.add(
            AvailabilityException(
                provider_id=provider.id,
                kind="absence",
                note="Training day",
                starts_at=dt.datetime.combine(bookings[-1].starts_at.date(), dt.time(8), ZONE),
                ends_at=dt.datetime.combine(bookings[-1].starts_at.date(), dt.time(18), ZONE),
            )
        )
    return len(confirmed)


def _follow_ups_with_the_demo_provider(
    db: Session,
    provider: Provider,
    bookings: list[Booking],
    first_day: dt.date,
    served_by_setis: set[int],
) -> None:
    """Continuity: a few Tigrinya requests of the first week ask for the demo interpreter.

    A follow-up session asks for the interpreter the person already knows; the
    matcher weighs that wish, so the demo provider's schedule gets offers when
    the SéTIS dispatcher plans the week.
    """
    week_end = first_day + dt.timedelta(days=5)
    _ask_for_the_demo_provider(
        db,
        provider,
        bookings,
        taken=[(b.starts_at, _ends(b)) for b in bookings if b.status == "confirmed"],
        admits=lambda b: (
            b.status == "requested"
            and b.organisation_id in served_by_setis
            and b.starts_at.date() < week_end
        ),
    )


def _ask_for_the_demo_provider(
    db: Session,
    provider: Provider,
    bookings: list[Booking],
    *,
    taken: list[tuple[dt.datetime, dt.datetime]],
    admits: Callable[[Booking], bool],
) -> list[Booking]:
    """Up to three Tigrinya bookings that `admits` lets through and that overlap nothing
    `taken` holds, opened to the demo provider and asking for them by name."""
    picked: list[Booking] = []
    for booking in bookings:
        if len(picked) == 3:
            break
        if booking.language_code != "tir" or not admits(booking):
            continue
        ends = _ends(booking)
        if any(booking.starts_at < e and s < ends for s, e in taken):
            continue
        booking.requires_certified = False
        booking.required_gender = None
        booking.provider_kind = "any"
        db.add(
            BookingProviderPreference(
                booking_id=booking.id, provider_id=provider.id, kind="preferred"
            )
        )
        taken.append((booking.starts_at, ends))
        picked.append(booking)
    return picked


def _ends(booking: Booking) -> dt.datetime:
    return booking.starts_at + dt.timedelta(minutes=booking.duration_minutes)


def _reference(rng: random.Random) -> str:
    chars = "".join(rng.choice(ALPHABET) for _ in range(8))
    return f"TR-{chars[:4]}-{chars[4:]}"


def _summary(providers: int, bookings: int, confirmed: int, first_day: dt.date) -> str:
    lines = [
        f"Demo data: {len(ORGANISATIONS)} organisations, {providers} providers, "
        f"{len(LANGUAGES)} languages, {bookings} bookings from {first_day.isoformat()} "
        f"({confirmed} confirmed for the demo provider).",
        f"Sign in with any of these (password '{DEMO_PASSWORD}'):",
    ]
    for role in ("admin", "dispatcher", "requester", "provider"):
        lines.append(f"  {role:<10} {role}@{DEMO_DOMAIN}")
    return "\n".join(lines)
