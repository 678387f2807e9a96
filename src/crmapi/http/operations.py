"""Operation names for every ``/api/v1`` verb, derived from the route declarations.

``POST /activity/note/`` -> ``create_activity_note``; ``GET /lead/{id}/`` -> ``get_lead``;
``GET /lead/`` (a list) -> ``list_lead``. Journal criteria use them so a test does not
depend on URL spelling (trailing slashes, ``//``); openapi's operationIds stay as they are.
"""

import re

_PARAM = re.compile(r"^\{[^}]*\}$")


def operation_name(method: str, template: str, is_list: bool) -> str:
    parts = [p for p in template.split("/") if p]
    words = [p for p in parts if not _PARAM.match(p)]
    on_item = bool(parts) and bool(_PARAM.match(parts[-1]))
    verb = {
        "GET": "list" if is_list else "get",
        "POST": "create",
        "PUT": "update" if on_item else "update_many",
        "DELETE": "delete" if on_item else "delete_many",
    }.get(method, method.lower())
    return "_".join([verb, *words]) if words else verb
