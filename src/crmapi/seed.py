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

from crmapi.activities import store
from crmapi.resources import accounts, statuses
from crmapi.storage import bulk
from crmapi.storage import tables as t
from crmapi.storage.db import Database
from crmapi.util import richtext
from crmapi.util.ids import _SHORT_FAMILIES as SHORT_FAMILIES

FIRST = [
    "Ada",
    "Grace",
    "Linus",
    "Barbara",
    "Ken",
    "Margaret",
    "Dennis",
    "Frances",
    "Alan",
    "Katherine",
    "Edsger",
    "Radia",
    "Donald",
    "Hedy",
    "John",
    "Sophie",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Torvalds",
    "Liskov",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Allen",
    "Turing",
    "Johnson",
    "Dijkstra",
    "Perlman",
    "Knuth",
    "Lamarr",
    "Backus",
    "Wilson",
]
COMPANY = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Vandelay",
    "Pied Piper",
    "Aperture",
    "Massive Dynamic",
]
SUFFIX = ["Inc", "LLC", "Corp", "Labs", "Group", "Systems", "Partners"]
NOTES = [
    "Met at the conference; interested in the team plan.",
    "Asked for a follow-up next week.",
    "Budget approved for Q3.",
    "Decision maker is the CTO.",
    "Wants a demo of the reporting.",
    "Sent pricing sheet.",
    "Competitor contract ends in March.",
]
SUBJECTS = [
    "Quick question",
    "Pricing for your team",
    "Following up",
    "Demo next week?",
    "Contract draft",
    "Intro",
]

# Close-like proportions of the feed: mostly email and calls, fewer notes and status changes.
MIX = [
    ("Email", 34),
    ("Call", 24),
    ("Note", 12),
    ("SMS", 8),
    ("Meeting", 5),
    ("LeadStatusChange", 5),
    ("TaskCompleted", 4),
    ("WhatsAppMessage", 3),
    ("OpportunityStatusChange", 2),
    ("FormSubmission", 2),
    ("CustomActivity", 1),
]


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


def _ts(moment: datetime) -> str:
    """``dates.canonical`` for the generator's naive UTC moments (no time zone conversion)."""
    return moment.isoformat(timespec="microseconds") + "+00:00"


def _utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _rfc2822(m: datetime) -> str:
    """``m.strftime("%a, %d %b %Y %H:%M:%S +0000")`` without strftime's cost or locale."""
    return (
        f"{_DAYS[m.weekday()]}, {m.day:02d} {_MONTHS[m.month - 1]} {m.year} "
        f"{m.hour:02d}:{m.minute:02d}:{m.second:02d} +0000"
    )


# Random bytes to base62 characters (each byte mod 62: a slight bias, harmless for seed data).
_B62 = bytes((ascii_letters + digits).encode()[b % 62] for b in range(256))


def seeded_id(rng: random.Random, prefix: str) -> str:
    """A Close-shaped id drawn from ``rng``, so a seed reproduces the same ids."""
    length = 22 if prefix in SHORT_FAMILIES else 43
    return prefix + "_" + rng.randbytes(length).translate(_B62).decode("ascii")


_HTML: dict[str, str] = {}


def _html(text: str) -> str:
    """``richtext.to_html`` memoised: seed texts come from a handful of sentences."""
    found = _HTML.get(text)
    if found is None:
        found = _HTML[text] = richtext.to_html(text)
    return found


class Generator:
    """Builds rows for one organization; call ``leads`` then ``activities``.

    Activities come as objects (dicts, for ``store.insert_many``) or, with ``rows=True``, as
    table rows ready for the bulk loader (``activity_row`` of the same object, built directly).
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
        self._base = self._row if rows else self._object  # type: ignore[method-assign]
        self.lead_rows: list[dict[str, Any]] = []
        self.contacts: dict[str, list[str]] = {}
        self.created_at: dict[str, datetime] = {}
        # The open email thread of each lead (id, subject): replies join it across batches.
        self.threads: dict[str, tuple[str, str]] = {}

    def new_id(self, prefix: str) -> str:
        return seeded_id(self.rng, prefix)

    def moment(self, after: datetime | None = None) -> datetime:
        base = after or self.start
        remaining = max(1.0, self.span - (base - self.start).total_seconds())
        return base + timedelta(seconds=self.rng.random() * remaining)

    def leads(self, n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        leads, contacts = [], []
        for _ in range(n):
            lead_id = self.new_id("lead")
            when = self.moment()
            self.created_at[lead_id] = when
            owner = self.rng.choice(self.org.users)
            stamp = _ts(when)
            leads.append(
                {
                    "id": lead_id,
                    "organization_id": self.org.id,
                    "name": f"{self.rng.choice(COMPANY)} {self.rng.choice(SUFFIX)}",
                    "description": None,
                    "url": None,
                    "status_id": self.rng.choice(self.org.lead_statuses)["id"],
                    "addresses": [],
                    "custom": {},
                    "created_by": owner,
                    "updated_by": owner,
                    "date_created": stamp,
                    "date_updated": stamp,
                }
            )
            self.contacts[lead_id] = []
            for _ in range(self.rng.randint(1, 3)):
                contacts.append(self._contact(lead_id, owner, stamp))
        return leads, contacts

    def _contact(self, lead_id: str, owner: str, stamp: str) -> dict[str, Any]:
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        contact_id = self.new_id("cont")
        self.contacts[lead_id].append(contact_id)
        number = f"+1415555{self.rng.randint(0, 9999):04d}"
        return {
            "id": contact_id,
            "organization_id": self.org.id,
            "lead_id": lead_id,
            "name": f"{first} {last}",
            "title": self.rng.choice(["CEO", "CTO", "VP Sales", "Buyer"]),
            "emails": [
                {
                    "email": f"{first.lower()}@{last.lower()}.example",
                    "type": "office",
                    "is_unsubscribed": False,
                }
            ],
            "phones": [
                {
                    "phone": number,
                    "phone_formatted": f"+1 415-555-{number[-4:]}",
                    "country": "US",
                    "type": "office",
                }
            ],
            "urls": [],
            "custom": {},
            "created_by": owner,
            "updated_by": owner,
            "date_created": stamp,
            "date_updated": stamp,
        }

    def created_activities(self, lead_ids: list[str]) -> list[Any]:
        return [
            self._base("Created", lead_id, self.created_at[lead_id], {"source": "api"})
            for lead_id in lead_ids
        ]

    def _base(
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
        stamp = _ts(when)
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
        """``activity_row(self._object(...))`` without the intermediate object (same draws)."""
        rng = self.rng
        user = rng.choice(self.org.users)
        stamp = when.isoformat(timespec="microseconds") + "+00:00"
        contacts = self.contacts[lead_id]
        contact_id = rng.choice(contacts) if contact and contacts else None
        shape, defaults = store.stored_shape(type_name)
        g = data.get
        return (
            self.new_id("acti"),
            self.org.id,
            type_name,
            lead_id,
            contact_id,
            None if anonymous else user,
            None if anonymous else user,
            user,
            stamp,
            stamp,
            stamp,
            g("thread_id"),
            g("custom_activity_type_id"),
            shape,
            orjson.dumps({**defaults, "users": [], **data}).decode(),
        )

    def activities(self, lead_ids: list[str], n: int) -> list[Any]:
        """About ``n`` activities (an email may bring its new thread along) on these leads."""
        out: list[Any] = []
        # One slot per percent of the MIX: a single choice() picks the kind.
        makers = [getattr(self, f"_{kind.lower()}") for kind, w in MIX for _ in range(w)]
        choice, random_, moment = self.rng.choice, self.rng.random, self.moment
        count = len(lead_ids)
        while len(out) < n:
            # Skewed like a real CRM: a few hot leads hold thousands of activities, the
            # median lead a few dozen (lead i is picked with density ~ 1/sqrt(i)).
            lead_id = lead_ids[int(count * random_() ** 2)]
            make = choice(makers)
            out.extend(make(lead_id, moment(self.created_at[lead_id]), self.threads))
        return out

    def _note(self, lead_id: str, when: datetime, _: Any) -> list[dict[str, Any]]:
        text = self.rng.choice(NOTES)
        return [
            self._base(
                "Note",
                lead_id,
                when,
                {
                    "note": text,
                    "note_html": _html(text),
                    "note_mentions": [],
                    "title": None,
                    "pinned": False,
                    "pinned_at": None,
                    "attachments": [],
                    "source": "api",
                },
                contact=True,
            )
        ]

    def _call(self, lead_id: str, when: datetime, _: Any) -> list[dict[str, Any]]:
        duration = self.rng.choice([0, 0, 35, 120, 300, 900])
        number = f"+1415555{self.rng.randint(0, 9999):04d}"
        text = self.rng.choice(NOTES) if duration else ""
        return [
            self._base(
                "Call",
                lead_id,
                when,
                {
                    "direction": self.rng.choice(["inbound", "outbound", "outbound"]),
                    "status": "completed",
                    "disposition": "answered" if duration else "no-answer",
                    "call_method": "external",
                    "source": "External",
                    "duration": duration,
                    "phone": number,
                    "remote_phone": number,
                    "remote_phone_formatted": f"+1 415-555-{number[-4:]}",
                    "remote_country_iso": "US",
                    "note": text,
                    "note_html": _html(text),
                    "voicemail_duration": 0,
                    "has_recording": False,
                    "quality_info": "",
                },
                contact=True,
            )
        ]

    def _sms(self, lead_id: str, when: datetime, _: Any) -> list[dict[str, Any]]:
        inbound = self.rng.random() < 0.4
        return [
            self._base(
                "SMS",
                lead_id,
                when,
                {
                    "status": "inbox" if inbound else "sent",
                    "direction": "inbound" if inbound else "outbound",
                    "source": "External",
                    "text": self.rng.choice(["Sounds good!", "Can we talk at 3?", "Thanks"]),
                    "local_phone": "+14155550100",
                    "remote_phone": "+14155550199",
                    "date_sent": _ts(when),
                    "attachments": [],
                },
                contact=True,
            )
        ]

    def _email(
        self, lead_id: str, when: datetime, threads: dict[str, tuple[str, str]]
    ) -> list[Any]:
        out = []
        thread = threads.get(lead_id)
        reply = thread is not None and self.rng.random() < 0.6
        if thread is None or not reply:
            subject = self.rng.choice(SUBJECTS)
            created = self._base(
                "EmailThread",
                lead_id,
                when,
                {"latest_normalized_subject": subject, "n_emails": 0, "participants": []},
            )
            # A reply's subject normalizes to its thread's: the thread's never changes.
            thread = threads[lead_id] = (created[0] if self.as_rows else created["id"], subject)
            out.append(created)
        thread_id, thread_subject = thread
        subject = ("Re: " if reply else "") + thread_subject
        incoming = self.rng.random() < 0.45
        us, them = "sales@demo.example", f"contact{self.rng.randint(1, 99)}@client.example"
        sender, to = (them, us) if incoming else (us, them)
        body = self.rng.choice(NOTES)
        stamp = _ts(when)
        message_id = f"<{self.new_id('msg')[4:20]}@demo.example>"
        email = self._base(
            "Email",
            lead_id,
            when,
            {
                "status": "inbox" if incoming else "sent",
                "direction": "incoming" if incoming else "outgoing",
                "subject": subject,
                "sender": sender,
                "to": [to],
                "cc": [],
                "bcc": [],
                "body_text": body,
                "body_html": f"<p>{body}</p>",
                "body_preview": body[:200],
                "envelope": {
                    "from": [{"email": sender, "name": ""}],
                    "sender": [{"email": sender, "name": ""}],
                    "to": [{"email": to, "name": ""}],
                    "cc": [],
                    "bcc": [],
                    "reply_to": [],
                    "subject": subject,
                    "date": _rfc2822(when),
                    "message_id": message_id,
                    "in_reply_to": None,
                    "is_autoreply": False,
                },
                "attachments": [],
                "opens": [],
                "date_sent": stamp,
                "thread_id": thread_id,
                "message_ids": [message_id],
                "references": [],
            },
            contact=True,
        )
        out.append(email)
        return out

    def _meeting(self, lead_id: str, when: datetime, _: Any) -> list[dict[str, Any]]:
        ends = when + timedelta(minutes=30)
        return [
            self._base(
                "Meeting",
                lead_id,
                when,
                {
                    "title": self.rng.choice(["Intro call", "Demo", "Pricing review"]),
                    "starts_at": _ts(when),
                    "ends_at": _ts(ends),
                    "duration": 1800,
                    "status": "completed",
                    "source": "calendar",
                    "location": "https://meet.example/abc",
                    "attendees": [],
                },
            )
        ]

    def _leadstatuschange(self, lead_id: str, when: datetime, _: Any) -> list[dict[str, Any]]:
        old, new = self.rng.sample(self.org.lead_statuses, 2)
        return [
            self._base(
                "LeadStatusChange",
                lead_id,
                when,
                {
                    "old_status_id": old["id"],
                    "old_status_label": old["label"],
                    "new_status_id": new["id"],
                    "new_status_label": new["label"],
                },
            )
        ]

    def _opportunitystatuschange(
        self, lead_id: str, when: datetime, _: Any
    ) -> list[dict[str, Any]]:
        value = self.rng.choice([50000, 120000, 990000])
        return [
            self._base(
                "OpportunityStatusChange",
                lead_id,
                when,
                {
                    "opportunity_id": self.new_id("oppo"),
                    "old_status_label": "Active",
                    "old_status_type": "active",
                    "new_status_label": self.rng.choice(["Won", "Lost"]),
                    "new_status_type": "won",
                    "opportunity_value": value,
                    "opportunity_value_currency": "USD",
                    "opportunity_value_formatted": f"${value // 100:,}",
                    "opportunity_value_period": "one_time",
                    "opportunity_confidence": 100,
                },
            )
        ]

    def _taskcompleted(self, lead_id: str, when: datetime, _: Any) -> list[dict[str, Any]]:
        return [
            self._base(
                "TaskCompleted",
                lead_id,
                when,
                {
                    "task_id": self.new_id("task"),
                    "task_text": self.rng.choice(["Send proposal", "Call back"]),
                },
            )
        ]

    def _whatsappmessage(self, lead_id: str, when: datetime, _: Any) -> list[dict[str, Any]]:
        text = self.rng.choice(["Hi there!", "See you tomorrow", "Got it, thanks"])
        return [
            self._base(
                "WhatsAppMessage",
                lead_id,
                when,
                {
                    "external_whatsapp_message_id": self.new_id("wa")[3:20],
                    "direction": "incoming",
                    "message_markdown": text,
                    "message_html": f"<p>{text}</p>",
                    "text": text,
                    "local_phone": "+14155550100",
                    "remote_phone": "+14155550123",
                    "source": "api",
                },
                contact=True,
            )
        ]

    def _formsubmission(self, lead_id: str, when: datetime, _: Any) -> list[dict[str, Any]]:
        return [
            self._base(
                "FormSubmission",
                lead_id,
                when,
                {
                    "form_id": "form_" + "0" * 22,
                    "form_name": "Contact us",
                    "values": {},
                    "values_by_name": {},
                    "ip_address": "192.0.2.1",
                    "origin": "https://demo.example",
                    "source_url": "https://demo.example/contact",
                    "source_url_normalized": "demo.example/contact",
                },
                anonymous=True,
            )
        ]

    def _customactivity(self, lead_id: str, when: datetime, _: Any) -> list[dict[str, Any]]:
        return [
            self._base(
                "CustomActivity",
                lead_id,
                when,
                {
                    "custom_activity_type_id": None,
                    "status": "published",
                    "last_published_at": _ts(when),
                    "pinned": False,
                    "source": "api",
                },
            )
        ]


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
    leads, contacts = gen.leads(n_leads)
    conn.execute(insert(t.lead), leads)
    if contacts:
        conn.execute(insert(t.contact), contacts)
    lead_ids = [lead["id"] for lead in leads]
    store.insert_many(conn, gen.created_activities(lead_ids))
    store.insert_many(conn, gen.activities(lead_ids, n_activities))


def demo(conn: Connection, seed: int = 7) -> Org:
    """The ``--demo`` organization: 4 users, 25 leads and a few hundred activities."""
    rng = random.Random(seed)
    org = create_demo_org(conn, "Demo Company", "bruce@demo.example", 4, rng)
    end = datetime.now(UTC)
    load(conn, org, rng, 25, 400, end - timedelta(days=365 * 2), end)
    from crmapi import demo_story

    demo_story.tell(conn, org, rng, end)
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
ACTIVITY_COLUMNS = tuple(c.name for c in t.activity.c)
# thread_id and custom_activity_type_id are columns and fields of their types (store.row_values).
_NOT_DATA = frozenset(ACTIVITY_COLUMNS) - {"thread_id", "custom_activity_type_id", "data"} | {
    "_type"
}
LEAD_COLUMNS = tuple(c.name for c in t.lead.columns)
CONTACT_COLUMNS = tuple(c.name for c in t.contact.columns)
_JSON_COLUMNS = frozenset({"addresses", "custom", "emails", "phones", "urls"})


def activity_row(values: dict[str, Any]) -> tuple[Any, ...]:
    """An activity object as a table row (what ``store.row_values`` stores, JSON encoded)."""
    g = values.get
    shape, defaults = store.stored_shape(values["_type"])
    data = {**defaults, **{k: v for k, v in values.items() if k not in _NOT_DATA}}
    return (
        values["id"],
        values["organization_id"],
        values["_type"],
        values["lead_id"],
        g("contact_id"),
        g("user_id"),
        g("created_by"),
        g("updated_by"),
        values["date_created"],
        values["date_updated"],
        values["activity_at"],
        g("thread_id"),
        g("custom_activity_type_id"),
        shape,
        orjson.dumps(data).decode(),
    )


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
    bulk.load(conn, "activity", ACTIVITY_COLUMNS, gen.created_activities(lead_ids))
    progress(leads)
    done = leads
    while done < total:
        batch = gen.activities(lead_ids, min(BATCH, total - done))[: total - done]
        bulk.load(conn, "activity", ACTIVITY_COLUMNS, batch)
        done += len(batch)
        progress(len(batch))
    return Seeded(org.id, org.key, leads, done, lead_ids)


def _load_leads(conn: Connection, gen: Generator, n: int) -> list[str]:
    leads, contacts = gen.leads(n)
    bulk.load(conn, "lead", LEAD_COLUMNS, [_plain_row(r, LEAD_COLUMNS) for r in leads])
    bulk.load(conn, "contact", CONTACT_COLUMNS, [_plain_row(r, CONTACT_COLUMNS) for r in contacts])
    return [lead["id"] for lead in leads]
