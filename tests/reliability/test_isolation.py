"""Tenant isolation matrix, generated from ``route_table()``.

Organization A gets the demo data (every activity type) plus one object per creatable path;
organization B's key is then aimed at every route and method with A's ids. Every item route
must answer 404, every list must hold none of A's ids (also when filtered by them), every
create that references A's objects must be refused, and A's rows must be byte-for-byte
unchanged afterwards. A route this file cannot map to one of A's objects fails the test, so a
new route is covered as soon as it is merged.
"""

import re
from typing import Any

from sqlalchemy import select

from crmapi import seed
from crmapi.activities import write
from crmapi.activities.registry import ACTIVITY_TYPES
from crmapi.domain.context import Principal
from crmapi.http.routing import route_table
from crmapi.registry import RESOURCES
from crmapi.storage.tables import metadata
from tests.conftest import Api, make_org
from tests.reliability.conftest import record
from tests.reliability.objects import body_for, create_everything

# Ids every organization holds alike (built-in roles): no one organization's data.
SHARED_IDS = {spec.path: spec.shared_ids for spec in RESOURCES}
ID_TOKEN = re.compile(r"\b[a-z0-9]+_[A-Za-z0-9]{20,}\b")
PARAM = re.compile(r"{(\w+)}")
# Collections whose items are named by another resource's ids (a type's schema by the type).
NAMED_BY = {"/custom_field_schema/activity/": "/custom_activity/"}
# Path parameters after an item's id: another of A's ids, or a name (an association's).
EXTRA_PARAMS = {"custom_activity_type_id": "/custom_activity/", "object_type": "lead"}


def snapshot(app: Any, org_id: str) -> dict[str, list[tuple[str, ...]]]:
    """Every row of the organization, in primary-key order, as text."""
    out = {}
    with app.state.db.read() as conn:
        for table in metadata.sorted_tables:
            # Rate-limit windows count the organization's own requests (the matrix makes
            # some as A), not data another organization could change.
            if "organization_id" not in table.c or table.name == "rate_limit_window":
                continue
            rows = conn.execute(
                select(table)
                .where(table.c.organization_id == org_id)
                .order_by(*table.primary_key.columns)
            )
            out[table.name] = [tuple(str(v) for v in row) for row in rows]
    return out


def ids_in(snap: dict[str, list[tuple[str, ...]]]) -> set[str]:
    return {
        value
        for rows in snap.values()
        for row in rows
        for value in row
        if ID_TOKEN.fullmatch(value)
    }


def leaked(body: str, secret_ids: set[str]) -> set[str]:
    return set(ID_TOKEN.findall(body)) & secret_ids


class Matrix:
    def __init__(self, app: Any, a: Api, b: Api, created: dict[str, str]) -> None:
        self.app = app
        self.a = a
        self.b = b
        self.created = created
        self.ops = dict(route_table())

    def a_id(self, path: str) -> str:
        """One of A's ids for an item path (or an action under it, ``{id}/render/``): what A
        itself lists under the collection."""
        params = PARAM.findall(path)
        if params[:1] != ["id"] or "{id}/" not in path or set(params[1:]) - set(EXTRA_PARAMS):
            raise AssertionError(f"no isolation case for {path}: map its parameters here")
        collection = path[: path.index("{id}/")]
        if collection in NAMED_BY:
            return self.created[NAMED_BY[collection]]
        if collection == "/organization/":
            return self.a.org_id
        if collection == "/membership/":  # no list in Close: the organization holds them
            organization = self.a.ok("GET", f"/organization/{self.a.org_id}/")
            return str(organization["memberships"][-1]["id"])
        if collection in self.created:
            return self.created[collection]
        if "GET" in self.ops.get(collection, {}):
            data = self.a.ok("GET", collection).get("data") or []
            shared = SHARED_IDS.get(collection, frozenset())
            own = [d["id"] for d in data if d["id"] not in shared]
            if own:
                return str(own[0])
        raise AssertionError(f"no isolation case for {path}: A has no object there")

    def refs(self) -> dict[str, str]:
        """A's ids under the body keys and filters that reference other objects."""
        statuses = [s["id"] for s in self.a.ok("GET", "/status/lead/")["data"]]
        opportunity = [s["id"] for s in self.a.ok("GET", "/status/opportunity/")["data"]]
        refs = {
            "lead_id": self.created["/lead/"],
            "contact_id": self.created["/contact/"],
            "user_id": self.a.user_id,
            "status_id": statuses[0],
            "organization_id": self.a.org_id,
            "lead_statuses": statuses,
            "opportunity_statuses": opportunity,
        }
        if "/custom_activity/" in self.created:
            refs["custom_activity_type_id"] = self.created["/custom_activity/"]
        leads = [lead["id"] for lead in self.a.ok("GET", "/lead/?_limit=5")["data"]]
        refs["other_lead_id"] = next(i for i in leads if i != refs["lead_id"])
        return refs


def test_it_keeps_every_route_isolated_between_organizations(app: Any, client: Any) -> None:
    with app.state.db.write() as conn:
        demo = seed.demo(conn)
    a = Api(client, demo.key, {"organization_id": demo.id, "user_id": demo.users[0]})
    b = make_org(app, client, "Intruder", "intruder@b.example")
    created = create_everything(lambda m, p, body: _send(a, m, p, body))
    with app.state.db.write() as conn:
        # One activity of every type on A's lead, including those only the system writes.
        wc = write.WriteContext(conn, Principal(a.org_id, a.user_id))
        for spec in ACTIVITY_TYPES:
            write.system_create(wc, spec, {"lead_id": created["/lead/"]})
    matrix = Matrix(app, a, b, created)
    before = snapshot(app, a.org_id)
    secret = ids_in(before) | {a.org_id}
    refs = matrix.refs()
    problems: list[str] = []
    cases = 0
    for path, ops in route_table():
        for method, op in sorted(ops.items()):
            cases += 1
            if "{" in path:
                try:
                    target = path.replace("{id}", matrix.a_id(path))
                    for name in PARAM.findall(target):
                        value = EXTRA_PARAMS[name]
                        target = target.replace(f"{{{name}}}", matrix.created.get(value, value))
                except AssertionError as exc:
                    problems.append(str(exc))
                    continue
                body = body_for(path, op, {}) if method in ("PUT", "POST") else None
                if method == "PUT" and op.fields is not None:
                    body = {f.name: "x" for f in op.fields.fields if f.update and f.kind == "str"}
                status, text = _raw(b, method, target, body)
                if status != 404:
                    problems.append(f"{method} {path} with A's id -> {status} {text[:200]}")
                continue
            if method == "GET":
                queries = [{}] + [
                    {name: value}
                    for name in (op.list_spec.filters if op.list_spec else {})
                    for key, value in refs.items()
                    if isinstance(value, str) and name in (key, f"{key}__in")
                ]
                for params in queries:
                    status, text = _raw(b, "GET", path, None, params=params)
                    if status >= 500 or leaked(text, secret):
                        problems.append(f"GET {path} {params} -> {status} leaks A's ids")
                    cases += 1
            elif method == "POST":
                body = body_for(path, op, refs)
                status, text = _raw(b, "POST", path, body)
                a_values = {v for v in refs.values() if isinstance(v, str)}
                a_values |= {v for v in refs.values() if isinstance(v, list) for v in v}
                references = [k for k, v in body.items() if isinstance(v, str) and v in a_values]
                if references and 200 <= status < 300:
                    problems.append(f"POST {path} with A's {references} accepted: {text[:200]}")
                if leaked(text, secret):
                    problems.append(f"POST {path} leaks A's ids: {text[:200]}")
            else:
                # Collection-wide writes (PUT /task/ bulk update...): aimed at A's ids they
                # must touch nothing (the snapshot below) and reveal nothing.
                for name, value in (
                    ("id__in", matrix.created.get(path)),
                    ("lead_id", refs["lead_id"]),
                ):
                    params = {name: value} if value else {}
                    body = {"is_complete": True, "name": "x", "_params": params}
                    status, text = _raw(b, method, path, body, params=params)
                    cases += 1
                    if status >= 500 or leaked(text, secret):
                        problems.append(f"{method} {path} {params} -> {status} {text[:200]}")
    after = snapshot(app, a.org_id)
    changed = [name for name in before if before[name] != after[name]]
    record(
        "isolation", app.state.settings.database_url, {"cases": cases, "routes": len(matrix.ops)}
    )
    assert problems == []
    assert changed == [], f"B changed A's rows in {changed}"


def _send(api: Api, method: str, path: str, body: Any) -> tuple[int, Any]:
    response = api.request(method, path, json=body)
    return response.status_code, response.json()


def _raw(api: Api, method: str, path: str, body: Any, **kw: Any) -> tuple[int, str]:
    response = api.request(method, path, json=body, **kw)
    return response.status_code, response.text
