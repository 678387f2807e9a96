"""Leads, contacts, users and organizations: shapes and write rules."""

from typing import Any

import pytest

from tests import factories
from tests.conftest import Api


class TestLeads:
    def test_it_creates_a_lead_with_nested_contacts_and_a_created_activity(self, api: Api) -> None:
        lead = api.ok(
            "POST",
            "lead/",
            {
                "name": "Wayne Enterprises",
                "url": "https://wayne.example",
                "contacts": [
                    {
                        "name": "Bruce Wayne",
                        "emails": [{"email": "bruce@wayne.example"}],
                        "phones": [{"phone": "8004445555", "type": "mobile"}],
                    }
                ],
                "addresses": [{"label": "business", "city": "Gotham", "country": "US"}],
            },
        )
        assert lead["display_name"] == "Wayne Enterprises"
        assert lead["status_label"] == "Potential"  # the organization's first status
        (contact,) = lead["contacts"]
        assert lead["contact_ids"] == [contact["id"]]
        assert contact["phones"] == [
            {
                "phone": "+18004445555",
                "phone_formatted": "+1 800-444-5555",
                "country": "US",
                "type": "mobile",
            }
        ]
        assert lead["primary_email"]["email"] == "bruce@wayne.example"
        assert lead["addresses"][0]["city"] == "Gotham"
        assert lead["created_by_name"] == "Bruce Wayne"
        feed = api.ok("GET", "activity/", params={"lead_id": lead["id"]})["data"]
        assert [(a["_type"], a["source"], a["user_id"]) for a in feed] == [
            ("Created", "api", api.user_id)
        ]

    def test_it_sets_status_by_id_or_label(self, api: Api) -> None:
        statuses = api.ok("GET", "status/lead/")["data"]
        by_id = factories.lead(api, None, status_id=statuses[2]["id"])
        assert by_id["status_label"] == statuses[2]["label"]
        by_label = factories.lead(api, None, status="customer")
        assert by_label["status_label"] == "Customer"
        assert by_id["display_name"] == "Untitled"

    @pytest.mark.parametrize(
        ("body", "key"),
        [
            ({"status_id": "stat_nope"}, "status"),
            ({"status": "No Such Status"}, "status"),
            ({"name": 5}, "name"),
            ({"contacts": [{"emails": [{"email": "not-an-address"}]}]}, "emails"),
            ({"contacts": [{"phones": [{"type": "office"}]}]}, "phones"),
            ({"addresses": "Gotham"}, "addresses"),
        ],
    )
    def test_it_rejects_bad_lead_bodies_and_writes_nothing(
        self, api: Api, body: dict[str, Any], key: str
    ) -> None:
        response = api.post("lead/", body)
        assert response.status_code == 400, response.text
        assert key in response.json()["field-errors"]
        assert api.ok("GET", "lead/")["total_results"] == 0
        assert api.ok("GET", "activity/")["data"] == []

    def test_it_writes_a_status_change_when_the_status_changes(self, api: Api) -> None:
        lead = factories.lead(api, "A")
        qualified = next(
            s for s in api.ok("GET", "status/lead/")["data"] if s["label"] == "Qualified"
        )
        api.ok("PUT", f"lead/{lead['id']}/", {"status_id": qualified["id"]})
        api.ok("PUT", f"lead/{lead['id']}/", {"status_id": qualified["id"]})  # unchanged: none
        changes = api.ok("GET", "activity/status_change/lead/", params={"lead_id": lead["id"]})
        assert [
            (c["old_status_label"], c["new_status_label"], c["user_id"]) for c in changes["data"]
        ] == [("Potential", "Qualified", api.user_id)]

    def test_it_deletes_a_lead_with_its_contacts_and_activities(self, api: Api) -> None:
        lead = factories.lead(api, "A", contacts=[{"name": "C"}])
        api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "hi"})
        api.ok("DELETE", f"lead/{lead['id']}/")
        assert api.ok("GET", "contact/")["data"] == []
        assert api.ok("GET", "activity/")["data"] == []


class TestContacts:
    def test_it_requires_nothing_and_creates_a_lead_named_after_the_contact(self, api: Api) -> None:
        contact = api.ok("POST", "contact/", {"name": "Selina Kyle"})
        lead = api.ok("GET", f"lead/{contact['lead_id']}/")
        assert lead["name"] == "Selina Kyle"
        assert lead["contact_ids"] == [contact["id"]]

    def test_it_lists_contacts_by_lead(self, api: Api) -> None:
        a = factories.lead(api, "A", contacts=[{"name": "A1"}, {"name": "A2"}])
        factories.lead(api, "B", contacts=[{"name": "B1"}])
        listed = api.ok("GET", "contact/", params={"lead_id": a["id"]})["data"]
        assert [c["name"] for c in listed] == ["A1", "A2"]
        assert len(api.ok("GET", "contact/")["data"]) == 3

    def test_it_updates_only_what_is_sent(self, api: Api) -> None:
        contact = api.ok(
            "POST",
            "contact/",
            {"name": "Dick", "title": "Intern", "urls": [{"url": "https://example.com"}]},
        )
        updated = api.ok("PUT", f"contact/{contact['id']}/", {"title": "Partner"})
        assert (updated["name"], updated["title"]) == ("Dick", "Partner")
        assert updated["urls"] == [{"url": "https://example.com", "type": "url"}]

    def test_it_keeps_activities_when_a_contact_is_deleted(self, api: Api) -> None:
        contact = api.ok("POST", "contact/", {"name": "Alfred"})
        note = api.ok(
            "POST",
            "activity/note/",
            {"lead_id": contact["lead_id"], "contact_id": contact["id"], "note": "x"},
        )
        api.ok("DELETE", f"contact/{contact['id']}/")
        kept = api.ok("GET", f"activity/note/{note['id']}/")
        assert kept["contact_id"] is None

    def test_it_rejects_an_unknown_lead(self, api: Api) -> None:
        response = api.post("contact/", {"lead_id": "lead_nope", "name": "X"})
        assert response.status_code == 400
        assert response.json() == {"errors": [], "field-errors": {"lead": "Object does not exist."}}


class TestUsersAndOrganization:
    def test_it_describes_the_caller(self, api: Api) -> None:
        me = api.ok("GET", "me/")
        assert me["id"] == api.user_id
        assert me["email"] == "owner@acme.example"
        (org,) = me["organizations"]
        assert org["id"] == api.org_id
        assert [s["label"] for s in org["lead_statuses"]] == [
            "Potential",
            "Bad Fit",
            "Qualified",
            "Customer",
        ]
        assert [p["name"] for p in org["pipelines"]] == ["Sales"]

    def test_it_lists_users_and_memberships(self, api: Api) -> None:
        users = api.ok("GET", "user/")["data"]
        assert [u["id"] for u in users] == [api.user_id]
        assert api.ok("GET", f"user/{api.user_id}/")["first_name"] == "Bruce"
        org = api.ok("GET", f"organization/{api.org_id}/")
        assert [m["user_full_name"] for m in org["memberships"]] == ["Bruce Wayne"]
        assert org["name"] == "Acme"
