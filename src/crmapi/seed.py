"""Deterministic demo data: an organization with users, leads, contacts and every activity type.

Used by ``crmapi serve --demo`` and by the tests; everything comes from ``Random(seed)``.
"""

import gc
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from string import ascii_letters, digits
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select

from crmapi import demo_story
from crmapi.activities import store
from crmapi.activities.registry import ACTIVITY_TYPES
from crmapi.activities.sample import ts
from crmapi.registry import RESOURCES
from crmapi.resources import accounts, statuses
from crmapi.resources.sample import FIRST, LAST
from crmapi.storage import bulk
from crmapi.storage import tables as t
from crmapi.storage.db import Database
from crmapi.util.ids import _SHORT_FAMILIES as SHORT_FAMILIES

# Close-like proportions of the feed (mostly email and calls, fewer notes and status changes)
# come from each type's ``sample_weight``; ties keep the registry's order.
SAMPLED = sorted((s for s in ACTIVITY_TYPES if s.sample), key=lambda s: -s.sample_weight)
MIX = [(spec.type, spec.sample_weight) for spec in SAMPLED]
# Resources that declare a sample, in registry order: leads, then for each lead its children's
# (contacts: every seeded lead has one to three).
ROOTS = tuple(s for s in RESOURCES if s.sample and not s.lead_child)
CHILDREN = tuple(s for s in RESOURCES if s.sample and s.lead_child)
SAMPLED_RESOURCES = (*ROOTS, *CHILDREN)


@dataclass
class Org:
    id: str
    users: list[str]
    key: str
    lead_statuses: list[dict[str, Any]]


def create_demo_org(
    conn: Connection, name: str, email: str, n_users: int, rng: random.Random
) -> Org:
    created = accounts.create_organization(conn, name, email, first_name="Bruce", last_name="Wayne")
    users = [created["user_id"]]
    for i in range(n_users - 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        added = accounts.add_user(
            conn,
            created["organization_id"],
            f"{first.lower()}.{last.lower()}{i}@{name.split()[0].lower()}.example",
            first,
            last,
        )
        users.append(added["user_id"])
    return Org(
        created["organization_id"],
        users,
        created["api_key"],
        statuses.lead_statuses(conn, created["organization_id"]),
    )


def _utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


# Random bytes to base62 characters (each byte mod 62: a slight bias, harmless for seed data).
_B62 = bytes((ascii_letters + digits).encode()[b % 62] for b in range(256))


def seeded_id(rng: random.Random, prefix: str) -> str:
    """A Close-shaped id drawn from ``rng``, so a seed reproduces the same ids."""
    length = 22 if prefix in SHORT_FAMILIES else 43
    return prefix + "_" + rng.randbytes(length).translate(_B62).decode("ascii")


class Generator:
    """Builds rows for one organization; call ``leads`` then ``activities``.

    Activities come as objects (dicts, for ``store.insert_many``) or, with ``rows=True``, as
    table rows ready for the bulk loader (``store.row_tuple`` of the same object).
    """

    def __init__(
        self, org: Org, rng: random.Random, start: datetime, end: datetime, rows: bool = False
    ) -> None:
        self.org = org
        self.rng = rng
        # Moments are naive UTC: rendering them skips a time zone conversion per timestamp.
        self.start = _utc_naive(start)
        self.span = (_utc_naive(end) - self.start).total_seconds()
        self.as_rows = rows
        self.base = self._row if rows else self._object  # type: ignore[method-assign]
        self.org_id, self.users = org.id, org.users
        self.lead_statuses = org.lead_statuses
        # Each sampled lead child's ids by lead (activities name one of the lead's contacts).
        self.children: dict[str, dict[str, list[str]]] = {s.name: {} for s in CHILDREN}
        self.contacts = self.children["contact"]
        self.created_at: dict[str, datetime] = {}
        # The open email thread of each lead (id, subject): replies join it across batches.
        self.threads: dict[str, tuple[str, str]] = {}

    def new_id(self, prefix: str) -> str:
        return seeded_id(self.rng, prefix)

    def moment(self, after: datetime | None = None) -> datetime:
        base = after or self.start
        remaining = max(1.0, self.span - (base - self.start).total_seconds())
        return base + timedelta(seconds=self.rng.random() * remaining)

    def created(self, lead_id: str) -> datetime:
        when = self.moment()
        self.created_at[lead_id] = when
        return when

    def leads(self, n: int) -> dict[str, list[dict[str, Any]]]:
        """``n`` leads, each with what its children's samples make for it (registry order),
        as table rows by resource name (``SAMPLED_RESOURCES`` order)."""
        out: dict[str, list[dict[str, Any]]] = {s.name: [] for s in SAMPLED_RESOURCES}
        for _ in range(n):
            for root in ROOTS:
                assert root.sample is not None
                for parent in root.sample(self, None):
                    out[root.name].append(parent)
                    for child in CHILDREN:
                        assert child.sample is not None
                        made = child.sample(self, parent)
                        self.children[child.name][parent["id"]] = [row["id"] for row in made]
                        out[child.name] += made
        return out

    def created_activities(self, lead_ids: list[str]) -> list[Any]:
        return [
            self.base("Created", lead_id, self.created_at[lead_id], {"source": "api"})
            for lead_id in lead_ids
        ]

    def base(
        self,
        type_name: str,
        lead_id: str,
        when: datetime,
        data: dict[str, Any],
        contact: bool = False,
        anonymous: bool = False,
    ) -> Any:
        """One activity: an object or a table row (``__init__`` binds ``_object`` or ``_row``).

        ``data`` holds the type's own fields; ``anonymous`` activities have no user_id and
        created_by (a form submission)."""
        raise NotImplementedError

    def _object(
        self,
        type_name: str,
        lead_id: str,
        when: datetime,
        data: dict[str, Any],
        contact: bool = False,
        anonymous: bool = False,
    ) -> dict[str, Any]:
        user = self.rng.choice(self.org.users)
        stamp = ts(when)
        contact_id = (
            self.rng.choice(self.contacts[lead_id]) if contact and self.contacts[lead_id] else None
        )
        return {
            "id": self.new_id("acti"),
            "_type": type_name,
            "organization_id": self.org.id,
            "lead_id": lead_id,
            "contact_id": contact_id,
            "user_id": None if anonymous else user,
            "created_by": None if anonymous else user,
            "updated_by": user,
            "date_created": stamp,
            "date_updated": stamp,
            "activity_at": stamp,
            "users": [],
            **data,
        }

    def _row(
        self,
        type_name: str,
        lead_id: str,
        when: datetime,
        data: dict[str, Any],
        contact: bool = False,
        anonymous: bool = False,
    ) -> tuple[Any, ...]:
        """The same activity as a table row, encoded by the store (the one row encoder)."""
        return store.row_tuple(self._object(type_name, lead_id, when, data, contact, anonymous))

    def activities(self, lead_ids: list[str], n: int) -> list[Any]:
        """About ``n`` activities (an email may bring its new thread along) on these leads."""
        out: list[Any] = []
        # One slot per percent of the mix: a single choice() picks the kind.
        makers = [s.sample for s in SAMPLED if s.sample for _ in range(s.sample_weight)]
        choice, random_, moment = self.rng.choice, self.rng.random, self.moment
        count = len(lead_ids)
        while len(out) < n:
            # Skewed like a real CRM: a few hot leads hold thousands of activities, the
            # median lead a few dozen (lead i is picked with density ~ 1/sqrt(i)).
            lead_id = lead_ids[int(count * random_() ** 2)]
            make = choice(makers)
            out.extend(make(self, lead_id, moment(self.created_at[lead_id])))
        return out


def load(
    conn: Connection,
    org: Org,
    rng: random.Random,
    n_leads: int,
    n_activities: int,
    start: datetime,
    end: datetime,
) -> None:
    """Insert leads, contacts and activities for ``org`` in bulk."""
    gen = Generator(org, rng, start, end)
    made = gen.leads(n_leads)
    for spec in SAMPLED_RESOURCES:
        if made[spec.name] and spec.table is not None:
            conn.execute(insert(spec.table), made[spec.name])
    lead_ids = [lead["id"] for root in ROOTS for lead in made[root.name]]
    store.insert_many(conn, gen.created_activities(lead_ids))
    store.insert_many(conn, gen.activities(lead_ids, n_activities))


def demo(conn: Connection, seed: int = 7) -> Org:
    """The ``--demo`` organization: 4 users, 25 leads and a few hundred activities."""
    rng = random.Random(seed)
    org = create_demo_org(conn, "Demo Company", "bruce@demo.example", 4, rng)
    end = datetime.now(UTC)
    load(conn, org, rng, 25, 400, end - timedelta(days=365 * 2), end)
    demo_story.tell(conn, org.id, org.users, rng, end)
    return org


def has_data(conn: Connection) -> bool:
    return conn.execute(select(t.organization.c.id).limit(1)).first() is not None


def demo_org_key(conn: Connection) -> str | None:
    """A fresh API key for the demo organization's first user (keys are stored hashed)."""
    row = conn.execute(
        select(t.organization.c.id, t.organization.c.created_by)
        .where(t.organization.c.name == "Demo Company")
        .limit(1)
    ).first()
    if row is None:
        return None
    return accounts.create_api_key(conn, row.id, row.created_by)


# ``crmapi seed``: a large, deterministic dataset for benchmarks and tenancy checks.

SEED_END = datetime(2025, 6, 30, tzinfo=UTC)  # fixed, so a --seed always gives the same rows
OTHER_ORG_SHARE = 10  # each extra organization gets 1/10th of the first one's rows
BATCH = 50_000  # activities per transaction
# The bulk loader writes rows in the table's own column order.
store.ROW_COLUMNS = tuple(c.name for c in t.activity.c)
_JSON_COLUMNS = frozenset({"addresses", "custom", "emails", "phones", "urls"})


def _plain_row(values: dict[str, Any], columns: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(
        orjson.dumps(values[c]).decode() if c in _JSON_COLUMNS else values.get(c) for c in columns
    )


@dataclass
class Seeded:
    organization_id: str
    api_key: str
    leads: int
    activities: int
    lead_ids: list[str]


def populate(
    db: Database,
    n_leads: int,
    n_activities: int,
    n_orgs: int = 1,
    seed: int = 1,
    *,
    users: int = 8,
    years: int = 3,
    progress: Callable[[int], None] = lambda _n: None,
) -> list[Seeded]:
    """Seed ``n_orgs`` organizations; the first has ``n_leads`` and ``n_activities``.

    Every activity count includes each lead's ``Created`` activity. Other organizations get
    a tenth as much, so every query also has rows it must not return.
    """
    rng = random.Random(seed)
    start = SEED_END - timedelta(days=365 * years)
    out = []
    # The generated rows hold no cycles: the cycle collector would only rescan tens of
    # thousands of live objects after every batch.
    gc.disable()
    try:
        with bulk.session(db, t.activity) as conn:
            for k in range(n_orgs):
                out.append(
                    _populate_org(conn, k, n_leads, n_activities, users, rng, start, progress)
                )
    finally:
        gc.enable()
    return out


def _populate_org(
    conn: Connection,
    k: int,
    n_leads: int,
    n_activities: int,
    users: int,
    rng: random.Random,
    start: datetime,
    progress: Callable[[int], None],
) -> Seeded:
    share = 1 if k == 0 else OTHER_ORG_SHARE
    with conn.begin():
        org = create_demo_org(
            conn, f"Seeded{k + 1} Company", f"owner@seeded{k + 1}.example", users, rng
        )
    gen = Generator(org, rng, start, SEED_END, rows=True)
    leads = max(1, n_leads // share)
    total = max(leads, n_activities // share)
    lead_ids = _load_leads(conn, gen, leads)
    bulk.load(conn, "activity", store.ROW_COLUMNS, gen.created_activities(lead_ids))
    progress(leads)
    done = leads
    while done < total:
        batch = gen.activities(lead_ids, min(BATCH, total - done))[: total - done]
        bulk.load(conn, "activity", store.ROW_COLUMNS, batch)
        done += len(batch)
        progress(len(batch))
    return Seeded(org.id, org.key, leads, done, lead_ids)


def _load_leads(conn: Connection, gen: Generator, n: int) -> list[str]:
    made = gen.leads(n)
    for spec in SAMPLED_RESOURCES:
        assert spec.table is not None
        columns = tuple(c.name for c in spec.table.columns)
        rows = [_plain_row(r, columns) for r in made[spec.name]]
        bulk.load(conn, spec.table.name, columns, rows)
    return [lead["id"] for root in ROOTS for lead in made[root.name]]
