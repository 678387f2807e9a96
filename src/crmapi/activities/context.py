"""The context every activity write and every type hook receives."""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from crmapi.domain.context import Principal
from crmapi.domain.declaration import Declaration
from crmapi.events.emit import emit
from crmapi.util import dates


@dataclass
class WriteContext:
    """The open transaction and who is writing; hooks receive it."""

    conn: Connection
    principal: Principal
    tz: float = 0.0
    now: str = field(default_factory=dates.now)
    request_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # request_method/request_path for events
    # The raw request body of the write, for hooks reading keys no Field declares (custom.cf_).
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def org(self) -> str:
        return self.principal.organization_id

    def emit(
        self,
        spec: Declaration,
        action: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        """The event of one change to an activity of this type (``activity.<event_type>``)."""
        self.emit_as(spec.event_type, action, before, after)

    def emit_as(
        self,
        event_type: str,
        action: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        self.emit_object(f"activity.{event_type}", action, before, after)

    def emit_object(
        self,
        object_type: str,
        action: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        """The event of a change an activity write causes to any object (its comments)."""
        obj = after or before or {}
        emit(
            self.conn,
            self.principal,
            object_type=object_type,
            action=action,
            object_id=obj["id"],
            lead_id=obj.get("lead_id"),
            before=before,
            after=after,
            request_id=self.request_id,
            meta=self.meta,
        )
