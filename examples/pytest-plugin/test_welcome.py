"""Tests of welcome.py against a real crmapi, through the crmapi pytest plugin.

``crmapi_org`` is a fresh organization per test (restored from one baseline), with its
clock frozen at 2026-01-05 09:00 UTC (pytest.ini), so time moves only when a test says so.
"""

import pytest
from crmapi.testing import EmulatorOrg

from welcome import Close, awaiting_reply, send_welcome


@pytest.fixture
def close(crmapi_org: EmulatorOrg) -> Close:
    return Close(crmapi_org.base_url, crmapi_org.api_key)


@pytest.fixture
def lead(close: Close) -> dict:
    return close.post(
        "lead/",
        {"name": "Wayne Enterprises",
         "contacts": [{"name": "Lucius Fox", "emails": [{"email": "lucius@wayne.example"}]}]},
    )


def test_the_welcome_email_goes_out_a_day_later(close, lead, crmapi_org):
    email_id = send_welcome(close, lead["id"], "sales@acme.example")
    assert crmapi_org.outbox.emails() == []

    fired = crmapi_org.clock.advance(by="23h")
    assert fired == []

    fired = crmapi_org.clock.advance(by="1h")
    assert [(f["kind"], f["id"], f["at"]) for f in fired] == [
        ("email.sent", email_id, "2026-01-06T09:00:00.000000+00:00")
    ]
    (sent,) = crmapi_org.outbox.emails()
    assert sent["to"] == ["lucius@wayne.example"]
    assert sent["subject"] == "Welcome to Acme"
    assert sent["date_sent"] == "2026-01-06T09:00:00.000000+00:00"


def test_a_reply_takes_the_lead_off_the_waiting_list(close, lead, crmapi_org):
    email_id = send_welcome(close, lead["id"], "sales@acme.example")
    crmapi_org.clock.advance(until_idle=True)
    assert awaiting_reply(close) == [lead["id"]]

    crmapi_org.helpers.inbound_email(
        in_reply_to_id=email_id, **{"from": "lucius@wayne.example"},
        to=["sales@acme.example"], body_text="Thanks!",
    )
    assert awaiting_reply(close) == []


def test_every_test_starts_from_the_baseline(close):
    assert close.get("lead/")["data"] == []
