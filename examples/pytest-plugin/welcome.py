"""A small Close integration, the kind a team tests against crmapi.

- ``send_welcome``: a day after a lead is created, its contacts get a welcome email
  (scheduled in Close, which sends it when the time comes).
- ``awaiting_reply``: the leads whose welcome email was sent and not answered yet.

It only knows Close's API: point ``base_url`` at https://api.close.com/api/v1/ in production.
"""

from datetime import datetime, timedelta

import requests


class Close:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.session = requests.Session()
        self.session.auth = (api_key, "")
        self.session.trust_env = False  # the tests talk to 127.0.0.1 only

    def get(self, path: str, **params: object) -> dict:
        response = self.session.get(self.base_url + path, params=params)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict) -> dict:
        response = self.session.post(self.base_url + path, json=body)
        response.raise_for_status()
        return response.json()


SUBJECT = "Welcome to Acme"


def send_welcome(close: Close, lead_id: str, sender: str) -> str:
    """Schedule the welcome email one day after the lead was created; return its id."""
    lead = close.get(f"lead/{lead_id}/")
    to = [e["email"] for c in lead["contacts"] for e in c["emails"]]
    when = datetime.fromisoformat(lead["date_created"]) + timedelta(days=1)
    email = close.post(
        "activity/email/",
        {
            "lead_id": lead_id,
            "status": "scheduled",
            "date_scheduled": when.isoformat(),
            "sender": sender,
            "to": to,
            "subject": SUBJECT,
            "body_text": f"Hello {lead['display_name']}, welcome aboard!",
        },
    )
    return str(email["id"])


def awaiting_reply(close: Close) -> list[str]:
    """Leads with a sent welcome email that has no reply."""
    emails = close.get("activity/email/", _limit=100)["data"]
    return sorted(
        {
            e["lead_id"]
            for e in emails
            if e["subject"] == SUBJECT and e["status"] == "sent" and not e["has_reply"]
        }
    )
