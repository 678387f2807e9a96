"""Schemathesis hooks for test_fuzz (loaded through ``SCHEMATHESIS_HOOKS``).

``schema_valid_data_is_accepted`` stands in for the built-in ``positive_data_acceptance``,
which fails every 400 to a schema-valid request. A JSON schema cannot know which ids exist or
express every rule between parameters, so some schema-valid requests are rightly refused; this
check allows exactly those refusals and fails every other one. A 400 for a schema-valid
request passes only when every message in it is one of:
- a reference to an object that does not exist (``Object does not exist.``);
- a rule between parameters or fields the document states (``x-requires``,
  ``x-requires-order``, "only together with", mutually exclusive fields);
- a conflict with the stored state (a type that cannot change, a pipeline still in use);
- the webhook destination policy of the server's mode (events/urlpolicy.py);
- NUL inside a nested or unknown key (the document states the rule, a schema cannot);
- four item shapes the declarations leave open (listed below by message: known gaps).
Anything else (a limit, a length, a format, a number out of range) means the document does
not state what the server enforces, which is the failure this check exists for.
"""

import re
from typing import Any

import schemathesis
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

STATE_DEPENDENT = re.compile(
    "|".join(
        [
            # references to objects that are not there
            r"does not exist",
            r"^No (lead|opportunity) status named",
            r"^Invalid cursor; use cursor_next or cursor_previous",  # only issued ones exist
            r"can only be used together with",
            r"can only be used when sorting by",
            r"Unsupported combination of event filters",
            r"not both",
            # requirements that depend on other fields (a lead or a contact naming one...)
            r"^This field is required\.$",
            r"needs at least one choice",
            r"^Only choices fields have choices\.$",
            r"^textarea fields exist only on custom activities\.$",
            r"^Only user, choices and contact fields accept multiple values\.$",
            r"is not a field of this type\.$",
            r"is not a field of this schema\.$",  # a schema PUT naming a field it lacks
            # the stored state
            r"has no opportunity statuses; create one first",
            r"cannot be changed",
            r"can only be deleted when",
            r"Only drafts can be modified",
            r"^This field is already associated with ",  # a shared field's second association
            r"Select the tasks to update with at least one filter",
            # the webhook destination policy (syntax and addresses, events/urlpolicy.py)
            r"webhooks may not be sent to",
            r"^Enter a valid URL\.$",
            r"URLs with credentials",
            # stated in the document: no string anywhere in a body may hold NUL (only declared
            # strings carry the pattern; nested and unknown keys cannot)
            r"^Null characters \(\\u0000\) are not allowed",
            # shapes the declarations leave open (kind "any", object-list items): checked by the
            # resource, described in its docs; known gaps of the document, listed here by name
            r"^Not a valid date or datetime\.$",  # task due_date (any)
            r"^Each item needs a non-empty string",  # contact emails/phones/urls items
            r"^Choices must be unique, non-empty strings\.$",  # custom field choices items
            r"^Send a list of \{\"id\": \.\.\.\} objects\.$",  # custom_activity fields (any)
            r"^Each item needs an \"id\"\.",  # custom_field_schema fields items
            r"at most \d+ webhook subscriptions",
            # s_query of a bulk action (an object in the search language, docs/search.md)
            r"^Invalid query: ",
            # a sequence's steps and sending window (object-list items and an object the
            # declarations leave open, docs/decisions.md "Sequences"), its IANA time zone
            r"^Step \d+: ",
            r"^A sequence needs at least one step\.$",
            r"^Not a valid schedule: ",
            r"^Unknown time zone: ",
            # a subscription list names a sequence, a contact or a lead; one run per contact
            r"^Filter the subscriptions by at least one of ",
            r"is already subscribed to this sequence",
            # a rule between a smart view's fields (its type decides whether a text query fits)
            r"^The text query applies to [a-z, ]+ views; use s_query\.$",
        ]
    )
)


def _messages(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return [repr(body)]
    found = [str(m) for m in body.get("errors", [])]
    return found + [str(m) for m in dict(body.get("field-errors", {})).values()]


@schemathesis.check
def schema_valid_data_is_accepted(ctx: Any, response: Any, case: Any) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    if is_unexpected_http_status_case(case):  # a request-shape probe
        return None
    body = getattr(case, "body", None)
    if isinstance(body, int | float | str | list | bool):  # not a JSON object: not valid data
        return None
    try:
        body = response.json()
    except ValueError:
        body = response.text
    unexplained = [m for m in _messages(body) if not STATE_DEPENDENT.search(m)]
    if unexplained:
        raise AssertionError(
            "A schema-valid request was refused for a reason the document does not state: "
            + "; ".join(unexplained)[:500]
        )
    return None
