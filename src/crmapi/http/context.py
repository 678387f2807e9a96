"""What a handler sees: the caller, its parameters and body, and the database."""

from dataclasses import dataclass, field
from typing import Any

from crmapi.domain.context import Principal
from crmapi.settings import Settings
from crmapi.storage.db import Database


@dataclass
class Ctx:
    principal: Principal
    db: Database
    settings: Settings
    method: str
    path: str
    params: dict[str, str]
    body: dict[str, Any]
    path_params: dict[str, str]
    tz: float = 0.0
    request_id: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def org(self) -> str:
        return self.principal.organization_id

    @property
    def user_id(self) -> str:
        return self.principal.user_id
