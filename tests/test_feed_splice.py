"""List pages splice stored documents into the response: the result must be exactly what
rendering each activity field by field gives, for every type and every stored shape."""

from typing import Any

import orjson
import pytest
from sqlalchemy import select, update

from crmapi import seed
from crmapi.activities import store
from crmapi.activities.registry import BY_TYPE
from crmapi.storage import tables as t
from tests.conftest import Api


def _demo(app: Any, client: Any) -> tuple[Api, str]:
    with app.state.db.write() as conn:
        org = seed.demo(conn)
    api = Api(client, org.key, {"organization_id": org.id, "user_id": ""})
    return api, org.id


def _rows(app: Any, org_id: str) -> list[Any]:
    with app.state.db.read() as conn:
        stmt = select(*store.COLUMNS).where(store.scope(org_id)).order_by(store.A.c.id)
        return [tuple(r) for r in conn.execute(stmt)]


def _as_text(rows: list[Any]) -> list[Any]:
    # What the raw driver returns on both backends: ``data`` as JSON text.
    return [(*r[:-1], orjson.dumps(r[-1]).decode()) for r in rows]


def test_spliced_items_equal_rendered_objects_for_every_type(app: Any, client: Any) -> None:
    _, org_id = _demo(app, client)
    rows = _rows(app, org_id)
    with app.state.db.read() as conn:
        rendered = store.render_rows(conn, rows)
        items = store.page_items(conn, _as_text(rows))
    spliced = [i for i in items if isinstance(i, orjson.Fragment)]
    assert len(spliced) > len(rows) // 2  # the fast path is really taken
    assert orjson.loads(orjson.dumps(items)) == rendered
    assert {r[2] for r in rows} == set(BY_TYPE)  # the demo holds every type


def test_documents_of_an_older_shape_are_rendered_with_defaults(app: Any, client: Any) -> None:
    api, org_id = _demo(app, client)
    note = api.ok("GET", "activity/note/", params={"_limit": 1})["data"][0]
    defaults = store.stored_shape("Note")[1]
    with app.state.db.write() as conn:
        # A note stored before a release added fields: no default values, unknown shape.
        data = conn.execute(
            select(t.activity.c.data).where(t.activity.c.id == note["id"])
        ).scalar_one()
        sparse = {k: v for k, v in data.items() if k not in defaults or v != defaults[k]}
        assert len(sparse) < len(data)
        conn.execute(
            update(t.activity).where(t.activity.c.id == note["id"]).values(shape=0, data=sparse)
        )
    listed = api.ok("GET", "activity/", params={"lead_id": note["lead_id"], "_limit": 100})
    (again,) = [a for a in listed["data"] if a["id"] == note["id"]]
    assert again == note


@pytest.mark.parametrize("field", ["recording_transcript", "voicemail_transcript"])
def test_on_request_fields_never_leak_through_the_splice(app: Any, client: Any, field: str) -> None:
    api, org_id = _demo(app, client)
    call = api.ok("GET", "activity/call/", params={"_limit": 1})["data"][0]
    with app.state.db.write() as conn:
        data = conn.execute(
            select(t.activity.c.data).where(t.activity.c.id == call["id"])
        ).scalar_one()
        conn.execute(
            update(t.activity)
            .where(t.activity.c.id == call["id"])
            .values(data={**data, field: {"utterances": []}})
        )
    for path in ("activity/", "activity/call/"):
        page = api.ok("GET", path, params={"lead_id": call["lead_id"], "_limit": 100})
        (listed,) = [a for a in page["data"] if a["id"] == call["id"]]
        assert field not in listed
    asked = api.ok("GET", f"activity/call/{call['id']}/", params={"_fields": f"id,{field}"})
    assert asked[field] == {"utterances": []}
