"""Email and SMS templates (/email_template/, /sms_template/, more.md §4): CRUD, the render
endpoint, the template tags, and emails/SMS created from a template."""

from typing import Any

import pytest

from crmapi import openapi
from crmapi.emulator.strict import known_params
from crmapi.http.routing import API_PREFIX, route_table
from crmapi.util import template_tags
from tests import factories
from tests.conftest import Api

Obj = dict[str, Any]
GREETING = {"name": "Checking in", "subject": "Hi {{ contact.first_name }}", "body": "Hello"}


def _email_template(api: Api, **body: Any) -> Obj:
    return dict(api.ok("POST", "email_template/", {**GREETING, **body}))


def _sms_template(api: Api, **body: Any) -> Obj:
    body.setdefault("name", "Ping")
    response = api.post("sms_template/", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _lead_and_contact(api: Api) -> tuple[Obj, Obj]:
    lead = factories.lead(api, "Bluth Company")
    contact = factories.contact(
        api, lead["id"], "John Smith", emails=[{"email": "john@example.com", "type": "office"}]
    )
    return lead, contact


# --- CRUD ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "create_status", "delete_status", "prefix"),
    [
        ("email_template/", GREETING, 200, 200, "tmpl_"),
        (
            "sms_template/",
            {"name": "Ping", "text": "Hey {{ contact.first_name }}"},
            201,
            204,
            "smstmpl_",
        ),
    ],
)
def test_crud_answers_with_closes_status_codes(
    api: Api, path: str, body: Obj, create_status: int, delete_status: int, prefix: str
) -> None:
    response = api.post(path, body)
    assert response.status_code == create_status, response.text
    created = response.json()
    assert created["id"].startswith(prefix)
    assert created["organization_id"] == api.org_id
    assert created["created_by"] == api.user_id
    assert api.ok("GET", f"{path}{created['id']}/") == created
    updated = api.ok("PUT", f"{path}{created['id']}/", {"name": "Renamed", "is_shared": True})
    assert (updated["name"], updated["is_shared"]) == ("Renamed", True)
    assert [o["id"] for o in api.ok("GET", path)["data"]] == [created["id"]]
    assert api.delete(f"{path}{created['id']}/").status_code == delete_status
    assert api.get(f"{path}{created['id']}/").status_code == 404


def test_email_template_defaults(api: Api) -> None:
    created = _email_template(api)
    assert created["is_shared"] is False
    assert created["is_archived"] is False
    assert (created["attachments"], created["cc"], created["bcc"]) == ([], [], [])
    assert created["used_by_sequences"] == []


def test_sms_template_defaults_and_archiving(api: Api) -> None:
    created = _sms_template(api)
    assert (created["status"], created["owned_by"], created["text"]) == ("active", api.user_id, "")
    archived = api.ok("PUT", f"sms_template/{created['id']}/", {"status": "archived"})
    assert archived["status"] == "archived"


def test_a_reposted_export_ignores_read_only_keys(api: Api) -> None:
    """close-api-scripts clone_organization.py POSTs a GET's object minus id (more.md §4.1)."""
    original = _email_template(api)
    copy = {k: v for k, v in original.items() if k not in ("id", "organization_id")}
    clone = _email_template(api, **copy)
    assert clone["id"] != original["id"]
    assert (clone["name"], clone["subject"], clone["body"]) == (
        original["name"],
        original["subject"],
        original["body"],
    )


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("", ["Live", "Archived", "Shared"]),
        ("?is_archived=false", ["Live", "Shared"]),
        ("?is_archived=true", ["Archived"]),
        ("?is_shared=true", ["Shared"]),
        ("?is_shared=false&is_archived=false", ["Live"]),
    ],
)
def test_email_template_list_filters(api: Api, query: str, names: list[str]) -> None:
    _email_template(api, name="Live")
    _email_template(api, name="Archived", is_archived=True)
    _email_template(api, name="Shared", is_shared=True)
    assert [t["name"] for t in api.ok("GET", f"email_template/{query}")["data"]] == names


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        # Close requires name, subject and body (more.md §11 #8).
        ("email_template/", {"subject": "s", "body": "b"}, "name"),
        ("email_template/", {"name": "n", "body": "b"}, "subject"),
        ("email_template/", {"name": "n", "subject": "s"}, "body"),
        ("email_template/", {**GREETING, "name": " "}, "name"),
        ("email_template/", {**GREETING, "is_shared": "yes"}, "is_shared"),
        ("email_template/", {**GREETING, "subject": "Hi {{ contact.name | upper }}"}, "subject"),
        ("email_template/", {**GREETING, "body": "{% if lead %}x{% endif %}"}, "body"),
        ("email_template/", {**GREETING, "body": "Hi {{ contact.first_name"}, "body"),
        ("email_template/", {**GREETING, "body": "{{ }}"}, "body"),
        ("sms_template/", {"text": "hi"}, "name"),
        ("sms_template/", {"name": "n", "text": "{{ lead.name()}}"}, "text"),
        ("sms_template/", {"name": "n", "attachments": "x"}, "attachments"),
    ],
)
def test_bad_templates_are_400(api: Api, path: str, body: Obj, field: str) -> None:
    response = api.post(path, body)
    assert response.status_code == 400, response.text
    assert field in response.json()["field-errors"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("email_template/", {"subject": None}, "subject"),
        ("email_template/", {"body": "{{ 1 + 1 }}"}, "body"),
        ("sms_template/", {"status": "deleted"}, "status"),
    ],
)
def test_bad_updates_are_400(api: Api, path: str, body: Obj, field: str) -> None:
    created = _email_template(api) if path == "email_template/" else _sms_template(api)
    response = api.put(f"{path}{created['id']}/", body)
    assert response.status_code == 400, response.text
    assert field in response.json()["field-errors"]


@pytest.mark.parametrize("kind", ["email_template", "sms_template"])
def test_template_events(api: Api, kind: str) -> None:
    created = _email_template(api) if kind == "email_template" else _sms_template(api)
    api.ok("PUT", f"{kind}/{created['id']}/", {"name": "Other"})
    api.delete(f"{kind}/{created['id']}/")
    events = [e for e in api.ok("GET", "event/")["data"] if e["object_id"] == created["id"]]
    assert {e["object_type"] for e in events} == {kind}
    assert sorted(e["action"] for e in events) == ["created", "deleted", "updated"]


# --- tags ------------------------------------------------------------------------------------

CONTEXT = {
    "lead": {"display_name": "Bluth Company", "custom": {"Lead Source": "Web"}},
    "contact": {"first_name": "John", "emails": [{"email": "j@x"}]},
    "user": {"first_name": "Phil"},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi {{ contact.first_name }}", "Hi John"),
        ("{{contact.first_name}}@{{ lead.display_name }}", "John@Bluth Company"),
        ("{{ lead.custom.Lead Source }}", "Web"),
        ("From {{ user.first_name }}", "From Phil"),
        # Unknown variables render as nothing (more.md §11 #7), at any depth.
        ("[{{ contact.nickname }}]", "[]"),
        ("[{{ nothing.at.all }}]", "[]"),
        ("[{{ lead.display_name.more }}]", "[]"),
        # Lists and objects have no text form.
        ("[{{ contact.emails }}]", "[]"),
        ("[{{ lead }}]", "[]"),
        ("no tags", "no tags"),
    ],
)
def test_tags_render(text: str, expected: str) -> None:
    template_tags.check(text)
    assert template_tags.render(text, CONTEXT) == expected


@pytest.mark.parametrize(
    "text",
    [
        "{{ a | b }}",
        "{% for x in y %}",
        "{{ a",
        "{{ }}",
        "{{ 1a }}",
        "{{ a.b() }}",
        "{{ a.__class__['x'] }}",
    ],
)
def test_tags_that_are_not_variables_are_refused(text: str) -> None:
    with pytest.raises(template_tags.TemplateSyntaxError):
        template_tags.check(text)


# --- render ----------------------------------------------------------------------------------


def test_render_for_a_lead_and_contact(api: Api) -> None:
    lead, contact = _lead_and_contact(api)
    field = api.ok("POST", "custom_field/lead/", {"name": "Plan", "type": "text"})
    api.ok("PUT", f"lead/{lead['id']}/", {f"custom.{field['id']}": "Gold"})
    template = _email_template(
        api,
        subject="Checking in, {{ contact.first_name }}",
        body="Hi {{ contact.first_name }} {{ contact.last_name }} of {{ lead.display_name }} "
        "({{ lead.custom.Plan }}), from {{ user.first_name }} at {{ organization.name }}"
        "{{ contact.unknown }}.",
    )
    rendered = api.ok(
        "GET",
        f"email_template/{template['id']}/render/",
        params={"lead_id": lead["id"], "contact_id": contact["id"]},
    )
    assert rendered == {
        "subject": "Checking in, John",
        "body": "Hi John Smith of Bluth Company (Gold), from Bruce at Acme.",
        "lead_id": lead["id"],
        "lead_display_name": "Bluth Company",
        "contact_id": contact["id"],
        "contact_display_name": "John Smith",
        "email": "john@example.com",
    }


def test_render_escapes_values_in_html_bodies(api: Api) -> None:
    lead = factories.lead(api, "<b>Bold</b> & Co")
    contact = factories.contact(api, lead["id"], "Ann")
    template = _email_template(api, body="<p>{{ lead.display_name }}</p>")
    rendered = api.ok(
        "GET",
        f"email_template/{template['id']}/render/",
        params={"lead_id": lead["id"], "contact_id": contact["id"]},
    )
    assert rendered["body"] == "<p>&lt;b&gt;Bold&lt;/b&gt; &amp; Co</p>"


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({}, 400, "lead_id"),
        ({"lead_id": "LEAD"}, 400, "contact_id"),
        ({"lead_id": "lead_missing", "contact_id": "CONTACT"}, 400, "lead_id"),
        ({"lead_id": "LEAD", "contact_id": "cont_missing"}, 400, "contact_id"),
        ({"lead_id": "LEAD", "contact_id": "OTHER_CONTACT"}, 400, "contact_id"),
        ({"query": "*", "entry": "100"}, 400, "entry"),
        ({"query": "*", "mode": "opportunity"}, 400, "mode"),
    ],
)
def test_render_errors(api: Api, params: dict[str, str], status: int, field: str) -> None:
    lead, contact = _lead_and_contact(api)
    other_lead = factories.lead(api, "Other")
    other_contact = factories.contact(api, other_lead["id"], "Zed")
    names = {"LEAD": lead["id"], "CONTACT": contact["id"], "OTHER_CONTACT": other_contact["id"]}
    sent = {k: names.get(v, v) for k, v in params.items()}
    template = _email_template(api)
    response = api.get(f"email_template/{template['id']}/render/", params=sent)
    assert response.status_code == status, response.text
    assert field in response.json()["field-errors"]


def test_render_of_an_unknown_template_is_404(api: Api) -> None:
    response = api.get("email_template/tmpl_missing/render/", params={"lead_id": "x"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("mode", "entry", "expected"),
    [
        # Leads in the search's order (date_updated descending); leads without emails skipped.
        ("lead", 0, ("Gamma", "Gina")),
        ("lead", 1, ("Alpha", "Ann")),
        ("lead", 2, None),
        # mode=contact indexes contacts with an email.
        ("contact", 0, ("Gamma", "Gina")),
        ("contact", 1, ("Alpha", "Ann")),
        ("contact", 2, ("Alpha", "Abe")),
        ("contact", 3, None),
    ],
)
def test_render_preview_over_a_search(
    api: Api, mode: str, entry: int, expected: tuple[str, str] | None
) -> None:
    for lead_name, contacts in (
        ("Alpha", [("Ann", True), ("Abe", True)]),
        ("Beta", [("Bob", False)]),
        ("Gamma", [("Gina", True)]),
    ):
        lead = factories.lead(api, lead_name)
        for name, has_email in contacts:
            emails = [{"email": f"{name.lower()}@x.example", "type": "office"}] if has_email else []
            factories.contact(api, lead["id"], name, emails=emails)
    template = _email_template(api, subject="{{ lead.display_name }}", body="{{ contact.name }}")
    rendered = api.ok(
        "GET",
        f"email_template/{template['id']}/render/",
        params={"query": "*", "entry": str(entry), "mode": mode},
    )
    if expected is None:
        assert rendered == {}
    else:
        assert (rendered["subject"], rendered["body"]) == expected


# --- activities from templates ---------------------------------------------------------------


def test_an_email_with_a_template_and_no_body_gets_it_rendered(api: Api) -> None:
    lead, contact = _lead_and_contact(api)
    template = _email_template(
        api, subject="For {{ lead.display_name }}", body="Hi {{ contact.first_name }}"
    )
    email = api.ok(
        "POST",
        "activity/email/",
        {
            "lead_id": lead["id"],
            "contact_id": contact["id"],
            "status": "draft",
            "template_id": template["id"],
        },
    )
    assert email["template_id"] == template["id"]
    assert email["template_name"] == "Checking in"
    assert email["subject"] == "For Bluth Company"
    assert email["body_text"] == "Hi John"
    assert email["body_html"] == "<body><p>Hi John</p></body>"
    assert api.ok("GET", f"activity/email/{email['id']}/")["body_text"] == "Hi John"


def test_an_html_template_fills_both_bodies(api: Api) -> None:
    lead, contact = _lead_and_contact(api)
    template = _email_template(api, body="<p>Hi <b>{{ contact.first_name }}</b></p>")
    email = api.ok(
        "POST",
        "activity/email/",
        {
            "lead_id": lead["id"],
            "contact_id": contact["id"],
            "status": "draft",
            "template_id": template["id"],
        },
    )
    assert email["body_html"] == "<body><p>Hi <b>John</b></p></body>"
    assert email["body_text"] == "Hi John"


@pytest.mark.parametrize(
    ("sent", "subject", "body_text"),
    [
        ({"body_text": "Mine"}, "Hi John", "Mine"),
        ({"subject": "Own subject"}, "Own subject", "Hello"),
    ],
)
def test_what_the_email_sends_wins_over_the_template(
    api: Api, sent: Obj, subject: str, body_text: str
) -> None:
    lead, contact = _lead_and_contact(api)
    template = _email_template(api)
    body = {
        "lead_id": lead["id"],
        "contact_id": contact["id"],
        "status": "draft",
        "template_id": template["id"],
        **sent,
    }
    email = api.ok("POST", "activity/email/", body)
    assert email["body_text"] == body_text
    if "body_text" not in sent:
        assert email["subject"] == subject
    assert email["template_id"] == template["id"]


def test_an_sms_with_a_template_and_no_text_gets_it_rendered(api: Api) -> None:
    lead, contact = _lead_and_contact(api)
    template = _sms_template(api, text="Hey {{ contact.first_name }}, ever considered Close?")
    sms = api.ok(
        "POST",
        "activity/sms/",
        {
            "lead_id": lead["id"],
            "contact_id": contact["id"],
            "status": "draft",
            "template_id": template["id"],
        },
    )
    assert sms["text"] == "Hey John, ever considered Close?"
    assert sms["template_id"] == template["id"]
    own = api.ok(
        "POST",
        "activity/sms/",
        {"lead_id": lead["id"], "status": "draft", "template_id": template["id"], "text": "Own"},
    )
    assert own["text"] == "Own"


@pytest.mark.parametrize(
    ("path", "template_id"),
    [
        ("activity/email/", "tmpl_missing"),
        ("activity/sms/", "smstmpl_missing"),
        # An SMS template is not an email template, and the other way round.
        ("activity/email/", "SMS"),
        ("activity/sms/", "EMAIL"),
    ],
)
def test_an_unknown_template_id_is_400(api: Api, path: str, template_id: str) -> None:
    lead = factories.lead(api)
    ids = {"SMS": _sms_template(api)["id"], "EMAIL": _email_template(api)["id"]}
    body = {
        "lead_id": lead["id"],
        "status": "draft",
        "template_id": ids.get(template_id, template_id),
    }
    response = api.post(path, body)
    assert response.status_code == 400, response.text
    assert "template_id" in response.json()["field-errors"]


# --- tenancy ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["email_template", "sms_template"])
def test_another_organizations_template_is_not_there(api: Api, other: Api, kind: str) -> None:
    theirs = _email_template(other) if kind == "email_template" else _sms_template(other)
    path = f"{kind}/{theirs['id']}/"
    assert api.get(path).status_code == 404
    assert api.put(path, {"name": "Mine now"}).status_code == 404
    assert api.delete(path).status_code == 404
    assert api.ok("GET", f"{kind}/")["data"] == []
    assert other.ok("GET", path)["name"] == theirs["name"]


def test_another_organizations_template_cannot_be_rendered_or_used(api: Api, other: Api) -> None:
    lead, contact = _lead_and_contact(api)
    email_template = _email_template(other, body="secret {{ lead.display_name }}")
    sms_template = _sms_template(other, text="secret")
    render = api.get(
        f"email_template/{email_template['id']}/render/",
        params={"lead_id": lead["id"], "contact_id": contact["id"]},
    )
    assert render.status_code == 404
    assert "secret" not in render.text
    for path, template_id in (
        ("activity/email/", email_template["id"]),
        ("activity/sms/", sms_template["id"]),
    ):
        response = api.post(
            path, {"lead_id": lead["id"], "status": "draft", "template_id": template_id}
        )
        assert response.status_code == 400
        assert "secret" not in response.text


def test_a_template_cannot_be_rendered_for_another_organizations_lead(api: Api, other: Api) -> None:
    their_lead, their_contact = _lead_and_contact(other)
    template = _email_template(api, body="{{ lead.display_name }}")
    response = api.get(
        f"email_template/{template['id']}/render/",
        params={"lead_id": their_lead["id"], "contact_id": their_contact["id"]},
    )
    assert response.status_code == 400
    assert "Bluth" not in response.text


# --- the render parameters are declared ------------------------------------------------------


def test_the_render_parameters_are_documented_and_known_to_strict_mode() -> None:
    path = "/email_template/{id}/render/"
    op = dict(route_table())[path]["GET"]
    assert {"lead_id", "contact_id", "query", "entry", "mode"} <= known_params(op)
    operation = openapi.document()["paths"][API_PREFIX + path]["get"]
    params = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert params["entry"] == {"type": "integer", "minimum": 0, "maximum": 99}
    assert params["mode"]["enum"] == ["lead", "contact"]
