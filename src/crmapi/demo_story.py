"""The demo's per-lead story, written through the real write paths.

The bulk generator (``seed.Generator``) gives the demo volume; this module gives each demo lead
a history that hangs together, written by the same functions the API uses, at past moments
(``dates.frozen``): the lead is emailed and called, notes are taken, it is qualified (a
``LeadStatusChange``), an opportunity is opened and later won or lost (``OpportunityStatusChange``
and ``date_won``), and a proposal task is completed (``TaskCompleted``). Events are emitted
exactly as for API calls.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from crmapi.activities import store, write
from crmapi.activities.registry import BY_TYPE
from crmapi.domain.context import Context, Principal
from crmapi.resources import (
    connected_accounts,
    custom_activity_types,
    custom_fields,
    dialers,
    groups,
    integration_links,
    leads,
    opportunities,
    phone_numbers,
    pipelines,
    roles,
    send_as,
    statuses,
    tasks,
)
from crmapi.storage import tables as t
from crmapi.util import dates, richtext
from crmapi.util.ids import new_id

# Activities the bulk generator invents without the objects behind them (an opportunity or a
# task that never existed); the story replaces them with real ones.
# Custom activities too: the generator's have no type; the story defines one and uses it.
SYSTEM_TYPES = ("LeadStatusChange", "OpportunityStatusChange", "TaskCompleted", "CustomActivity")
OUTCOMES = (("won", 0.4), ("lost", 0.25), ("open", 0.35))
VALUES = (250_000, 480_000, 1_200_000, 3_600_000, 9_900_000)  # cents
INTRO_NOTES = (
    "Inbound from the website; runs a 12-person sales team.",
    "Met at SaaStr; evaluating a CRM switch this quarter.",
    "Referred by an existing customer.",
)
CALL_NOTES = (
    "Discovery call: pain is manual follow-ups, budget approved.",
    "Walked through pipeline reporting; wants a trial for the team.",
    "Spoke with the decision maker; needs a proposal by Friday.",
)


@dataclass
class _Teller:
    conn: Connection
    org_id: str
    users: list[str]
    rng: random.Random

    def ctx(self, user: str, method: str, path: str) -> Context:
        """Who acts, as if through the API (events carry the request a client would send)."""
        return Context(
            principal=Principal(self.org_id, user),
            method=method,
            path=f"/api/v1{path}",
            request_id=new_id("req"),
        )

    def activity(self, user: str, type_name: str, body: dict[str, Any]) -> dict[str, Any]:
        ctx = self.ctx(user, "POST", f"/activity/{BY_TYPE[type_name].path}/")
        return write.create(write.write_context(ctx, self.conn), BY_TYPE[type_name], body)

    def lead_status(self, user: str, lead_id: str, label: str) -> None:
        ctx = self.ctx(user, "PUT", f"/lead/{lead_id}/")
        leads.update_(self.conn, ctx, lead_id, {"status": label})


def _moments(rng: random.Random, start: datetime, end: datetime, n: int) -> list[datetime]:
    start = min(start, end - timedelta(minutes=n))  # a lead created just now still fits
    span = (end - start).total_seconds()
    offsets = sorted(rng.uniform(0.02, 0.98) * span for _ in range(n))
    return [start + timedelta(seconds=s) for s in offsets]


def _outcome(rng: random.Random) -> str:
    return rng.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]


def tell(
    conn: Connection, org_id: str, users: list[str], rng: random.Random, end: datetime
) -> None:
    """Give every lead of the organization a believable history (see the module docstring);
    ``users`` act in it (the first is the owner)."""
    teller = _Teller(conn, org_id, users, rng)
    rows = conn.execute(
        select(t.lead.c.id, t.lead.c.name, t.lead.c.date_created)
        .where(t.lead.c.organization_id == org_id)
        .order_by(t.lead.c.date_created, t.lead.c.id)
    ).all()
    first_status = statuses.lead_statuses(conn, org_id)[0]["id"]
    store.delete_activities(conn, org_id, store.A.c.type.in_(SYSTEM_TYPES))
    # Every story starts where a new lead starts: in the first (default) status.
    conn.execute(
        update(t.lead).where(t.lead.c.organization_id == org_id).values(status_id=first_status)
    )
    contacts = _contacts(conn, org_id)
    for row in rows:
        started = dates.to_datetime(row.date_created)
        _one_lead(teller, row.id, contacts.get(row.id, []), started, end)
    showcase = showcase_lead(conn, org_id)
    _reviews(teller, [r.id for r in rows], end, showcase)
    _duplicate(teller, showcase, {r.id: r.name for r in rows}[showcase], end)
    configuration(conn, org_id, users)


def configuration(conn: Connection, org_id: str, users: list[str]) -> None:
    """One of each configuration object (more.md §8), as Close's settings pages make them:
    the owner's Google mailbox, a custom role, a sales group, a Send As from the owner to the
    second member, a LinkedIn link on contacts, a personal and a group number, and a finished
    power-dialer session."""
    owner, other = users[0], users[1 % len(users)]
    owner_email = conn.execute(select(t.user.c.email).where(t.user.c.id == owner)).scalar()
    connected_accounts.add(conn, org_id, owner, "google", str(owner_email), "Bruce Wayne")
    roles.add(conn, org_id, "Sales Manager", ["calling", "view_all_leads", "bulk_email"])
    groups.add(conn, org_id, "Sales", users[:2])
    send_as.add(conn, org_id, owner, other)
    link = {
        "name": "LinkedIn",
        "type": "contact",
        "url": "https://www.linkedin.com/vsearch/p?keywords={{contact.name}}",
    }
    integration_links.add(conn, org_id, owner, link)
    phone_numbers.add(conn, org_id, "+16503335555", owner, "Bruce's line")
    phone_numbers.add(conn, org_id, "+16503335556", None, "Sales team", participants=users[:2])
    # The dialer ran over a smart view (its id: the saved_search endpoint tells more).
    dialers.add(conn, org_id, owner, new_id("save"), caller_id="+16503335555")


def showcase_lead(conn: Connection, org_id: str) -> str:
    """The lead with the most kinds of activity: it also gets a review and the merge, so one
    demo lead holds every activity type (the inspector's tests and screenshots show it)."""
    kinds = func.count(store.A.c.type.distinct())
    return str(
        conn.execute(
            select(store.A.c.lead_id)
            .where(store.A.c.organization_id == org_id, store.A.c.lead_id.is_not(None))
            .group_by(store.A.c.lead_id)
            .order_by(kinds.desc(), store.A.c.lead_id)
            .limit(1)
        ).scalar_one()
    )


def _reviews(teller: _Teller, lead_ids: list[str], end: datetime, showcase: str) -> None:
    """A custom activity type with its fields, and a few published reviews of it (one of
    them on the showcase lead)."""
    owner = teller.users[0]
    with dates.frozen(end - timedelta(days=30)):
        body: dict[str, Any] = {"name": "Demo review", "description": "After every product demo"}
        ctx = teller.ctx(owner, "POST", "/custom_activity/")
        kind = custom_activity_types.create(teller.conn, ctx, body)
        fields = {}
        for name, spec in (
            (
                "Outcome",
                {
                    "type": "choices",
                    "choices": ["Great fit", "Needs work", "No fit"],
                    "required": True,
                },
            ),
            ("Attendees", {"type": "number"}),
        ):
            body = {"name": name, "custom_activity_type_id": kind["id"], **spec}
            ctx = teller.ctx(owner, "POST", "/custom_field/activity/")
            made = custom_fields.create(teller.conn, ctx, "activity", body)
            fields[name] = f"custom.{made['id']}"
    reviewed = teller.rng.sample(lead_ids, min(6, len(lead_ids)))
    for lead_id in [showcase, *(lead for lead in reviewed if lead != showcase)][:6]:
        with dates.frozen(end - timedelta(days=teller.rng.randint(1, 29))):
            teller.activity(
                owner,
                "CustomActivity",
                {
                    "lead_id": lead_id,
                    "custom_activity_type_id": kind["id"],
                    fields["Outcome"]: teller.rng.choice(["Great fit", "Needs work", "No fit"]),
                    fields["Attendees"]: teller.rng.randint(2, 6),
                },
            )


def _duplicate(teller: _Teller, lead_id: str, name: str | None, end: datetime) -> None:
    """A duplicate lead, entered by mistake, merged into the original (a LeadMerge)."""
    owner = teller.users[0]
    with dates.frozen(end - timedelta(days=3)):
        body: dict[str, Any] = {"name": f"{name} (duplicate)", "contacts": [{"name": "Pat Doe"}]}
        ctx = teller.ctx(owner, "POST", "/lead/")
        source = leads.insert_lead(teller.conn, ctx, body, dates.now())
        teller.activity(owner, "Note", {"lead_id": source, "note": "Entered twice by mistake."})
    with dates.frozen(end - timedelta(days=2)):
        body = {"source": source, "destination": lead_id}
        leads.merge(teller.conn, teller.ctx(owner, "POST", "/lead/merge/"), body)


def _contacts(conn: Connection, org_id: str) -> dict[str, list[tuple[str, str, str | None]]]:
    out: dict[str, list[tuple[str, str, str | None]]] = {}
    rows = conn.execute(
        select(t.contact.c.id, t.contact.c.lead_id, t.contact.c.name, t.contact.c.emails).where(
            t.contact.c.organization_id == org_id
        )
    )
    for r in rows:
        email = r.emails[0]["email"] if r.emails else None
        out.setdefault(r.lead_id, []).append((r.id, r.name or "", email))
    return out


def _one_lead(
    teller: _Teller,
    lead_id: str,
    contacts: list[tuple[str, str, str | None]],
    started: datetime,
    end: datetime,
) -> None:
    rng = teller.rng
    owner = rng.choice(teller.users)
    contact_id, contact_name, email = contacts[0] if contacts else (None, "", None)
    steps = iter(_moments(rng, started, end, 7))
    outcome = _outcome(rng)

    with dates.frozen(next(steps)):
        teller.activity(owner, "Note", {"lead_id": lead_id, "note": rng.choice(INTRO_NOTES)})
    with dates.frozen(next(steps)):
        first_name = contact_name.split(" ")[0] or "there"
        body_text = f"Hi {first_name}, thanks for your interest. Do you have 20 minutes this week?"
        teller.activity(
            owner,
            "Email",
            {
                "lead_id": lead_id,
                "contact_id": contact_id,
                "direction": "outgoing",
                "status": "sent",
                "subject": "Getting started",
                "sender": "sales@demo.example",
                "to": [email or "contact@client.example"],
                "body_text": body_text,
                "body_html": richtext.to_html(body_text),
            },
        )
    with dates.frozen(next(steps)):
        teller.activity(
            owner,
            "Call",
            {
                "lead_id": lead_id,
                "contact_id": contact_id,
                "direction": "outbound",
                "status": "completed",
                "duration": rng.choice([300, 540, 900, 1500]),
                "note": rng.choice(CALL_NOTES),
            },
        )
    with dates.frozen(next(steps)):
        teller.lead_status(owner, lead_id, "Qualified")
    with dates.frozen(next(steps)):
        body = {
            "lead_id": lead_id,
            "contact_id": contact_id,
            "user_id": owner,
            "value": rng.choice(VALUES),
            "value_period": rng.choice(["one_time", "annual", "monthly"]),
            "confidence": rng.choice([30, 50, 70]),
            "note": "Team plan, annual billing discussed.",
        }
        opp = opportunities.create(teller.conn, teller.ctx(owner, "POST", "/opportunity/"), body)
        body = {"lead_id": lead_id, "text": f"Send proposal to {contact_name or 'the team'}"}
        task = tasks.create(teller.conn, teller.ctx(owner, "POST", "/task/"), body)
    with dates.frozen(next(steps)):
        done = {"is_complete": True}
        tasks.update(
            teller.conn, teller.ctx(owner, "PUT", f"/task/{task['id']}/"), task["id"], done
        )
        teller.activity(owner, "Note", {"lead_id": lead_id, "note": "Proposal sent."})
    moment = next(steps)
    with dates.frozen(moment):
        _close(teller, owner, lead_id, opp, outcome, moment)


def _close(
    teller: _Teller,
    owner: str,
    lead_id: str,
    opp: dict[str, Any],
    outcome: str,
    moment: datetime,
) -> None:
    """Win, lose, or keep working the deal."""
    if outcome == "open":
        body = {
            "lead_id": lead_id,
            "text": "Follow up on the proposal",
            "date": (moment + timedelta(days=teller.rng.randint(2, 60))).date().isoformat(),
        }
        tasks.create(teller.conn, teller.ctx(owner, "POST", "/task/"), body)
        return
    status = pipelines.status_by_label(teller.conn, teller.org_id, outcome.title(), None)
    assert status is not None
    change: dict[str, Any] = {
        "status_id": status["id"],
        "confidence": 100 if outcome == "won" else 0,
    }
    path = f"/opportunity/{opp['id']}/"
    opportunities.update(teller.conn, teller.ctx(owner, "PUT", path), opp["id"], change)
    teller.lead_status(owner, lead_id, "Customer" if outcome == "won" else "Bad Fit")
