"""Who is calling, and the context every domain function takes.

Domain code (resources, activities, events) never sees the HTTP request: it takes an
``Actor``, the caller and how its changes are reported. An HTTP request is one (``http.Ctx``);
the demo story and the seeder build a ``Context`` themselves and call the same functions.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from crmapi.settings import Settings
from crmapi.storage.db import Database

if TYPE_CHECKING:
    from crmapi.domain.clock import OrgClock


@dataclass(frozen=True, slots=True)
class Principal:
    organization_id: str
    user_id: str
    api_key_id: str | None = None
    oauth_client_id: str | None = None
    # The organization's test clock and id seed (None: wall time, random ids).
    clock: "OrgClock | None" = None


class Actor(Protocol):
    """What a domain function needs to know about who acts (scoping, attribution, events)."""

    @property
    def principal(self) -> Principal: ...

    @property
    def tz(self) -> float: ...  # X-TZ-Offset hours: "today" is the caller's today

    @property
    def request_id(self) -> str: ...  # stored with every event the change emits

    @property
    def method(self) -> str: ...  # the request that caused the change (events' meta)

    @property
    def path(self) -> str: ...

    @property
    def org(self) -> str: ...

    @property
    def user_id(self) -> str: ...


@dataclass(frozen=True)
class Context:
    """An ``Actor`` built outside HTTP (the demo story, the seeder, the CLI)."""

    principal: Principal
    tz: float = 0.0
    request_id: str = ""
    method: str = ""
    path: str = ""

    @property
    def org(self) -> str:
        return self.principal.organization_id

    @property
    def user_id(self) -> str:
        return self.principal.user_id

    def meta(self) -> dict[str, Any]:
        return {"request_method": self.method, "request_path": self.path}


class Call(Actor, Protocol):
    """A request as a handler sees it (``http.Ctx`` is one): its parameters, body, path ids
    and the database. Handlers return plain data (or a ``Reply``); http makes the response."""

    @property
    def db(self) -> Database: ...

    @property
    def settings(self) -> Settings: ...  # the server's (webhook URL policy, modes)

    @property
    def params(self) -> dict[str, str]: ...

    @property
    def body(self) -> dict[str, Any]: ...

    @property
    def path_params(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class Reply:
    """A handler's answer that carries headers too (``Location`` of a created pipeline)."""

    body: Any
    headers: dict[str, str]
