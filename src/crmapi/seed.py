"""Deterministic demo data: an organization with users, leads, contacts and every activity type.

Used by ``crmapi serve --demo`` and by the tests; everything comes from ``Random(seed)``.
"""

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select

from crmapi.activities import store
from crmapi.activities.types.emailthread import normalize_subject
from crmapi.resources import accounts, statuses
from crmapi.storage import tables as t
from crmapi.util import dates, richtext
from crmapi.util.ids import new_id

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
    return dates.canonical(moment)


class Generator:
    """Builds rows for one organization; call ``leads`` then ``activities``."""

    def __init__(self, org: Org, rng: random.Random, start: datetime, end: datetime) -> None:
        self.org = org
        self.rng = rng
        self.start = start
        self.span = (end - start).total_seconds()
        self.lead_rows: list[dict[str, Any]] = []
        self.contacts: dict[str, list[str]] = {}
        self.created_at: dict[str, datetime] = {}

    def moment(self, after: datetime | None = None) -> datetime:
        base = after or self.start
        remaining = max(1.0, self.span - (base - self.start).total_seconds())
        return base + timedelta(seconds=self.rng.random() * remaining)

    def leads(self, n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        leads, contacts = [], []
        for _ in range(n):
            lead_id = new_id("lead")
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
        contact_id = new_id("cont")
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

    def created_activities(self, lead_ids: list[str]) -> list[dict[str, Any]]:
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
    ) -> dict[str, Any]:
        user = self.rng.choice(self.org.users)
        stamp = _ts(when)
        contact_id = (
            self.rng.choice(self.contacts[lead_id]) if contact and self.contacts[lead_id] else None
        )
        return {
            "id": new_id("acti"),
            "_type": type_name,
            "organization_id": self.org.id,
            "lead_id": lead_id,
            "contact_id": contact_id,
            "user_id": user,
            "created_by": user,
            "updated_by": user,
            "date_created": stamp,
            "date_updated": stamp,
            "activity_at": stamp,
            "users": [],
            **data,
        }

    def activities(self, lead_ids: list[str], n: int) -> list[dict[str, Any]]:
        kinds = [k for k, _ in MIX]
        weights = [w for _, w in MIX]
        out: list[dict[str, Any]] = []
        threads: dict[str, dict[str, Any]] = {}
        while len(out) < n:
            lead_id = self.rng.choice(lead_ids)
            when = self.moment(self.created_at[lead_id])
            kind = self.rng.choices(kinds, weights)[0]
            out.extend(getattr(self, f"_{kind.lower()}")(lead_id, when, threads))
        return out[:n] if len(out) <= n else out

    def _note(self, lead_id: str, when: datetime, _: Any) -> list[dict[str, Any]]:
        text = self.rng.choice(NOTES)
        return [
            self._base(
                "Note",
                lead_id,
                when,
                {
                    "note": text,
                    "note_html": richtext.to_html(text),
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
                    "note_html": richtext.to_html(text),
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
        self, lead_id: str, when: datetime, threads: dict[str, dict[str, Any]]
    ) -> list[dict[str, Any]]:
        out = []
        thread = threads.get(lead_id)
        reply = thread is not None and self.rng.random() < 0.6
        if not reply:
            subject = self.rng.choice(SUBJECTS)
            thread = self._base(
                "EmailThread",
                lead_id,
                when,
                {"latest_normalized_subject": subject, "n_emails": 0, "participants": []},
            )
            threads[lead_id] = thread
            out.append(thread)
        assert thread is not None
        subject = ("Re: " if reply else "") + str(thread["latest_normalized_subject"])
        incoming = self.rng.random() < 0.45
        us, them = "sales@demo.example", f"contact{self.rng.randint(1, 99)}@client.example"
        sender, to = (them, us) if incoming else (us, them)
        body = self.rng.choice(NOTES)
        stamp = _ts(when)
        message_id = f"<{new_id('msg')[4:20]}@demo.example>"
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
                    "date": dates.rfc2822(stamp),
                    "message_id": message_id,
                    "in_reply_to": None,
                    "is_autoreply": False,
                },
                "attachments": [],
                "opens": [],
                "date_sent": stamp,
                "thread_id": thread["id"],
                "message_ids": [message_id],
                "references": [],
            },
            contact=True,
        )
        thread["latest_normalized_subject"] = normalize_subject(subject)
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
                    "opportunity_id": new_id("oppo"),
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
                    "task_id": new_id("task"),
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
                    "external_whatsapp_message_id": new_id("wa")[3:20],
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
                    "user_id": None,
                    "created_by": None,
                },
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
