"""Built-in webhook receivers: ``/_crmapi/sinks/{org}/{name}/`` records what arrives.

The local ``stripe listen``: a subscription pointed at a sink needs no receiver of its own,
and ``fail_next`` makes the sink answer an error to exercise Close's retries. In memory, per
process, each organization's sinks its own.
"""

import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

MAX_SINKS_PER_ORG = 50
MAX_RECEIVED = 1000
MAX_BODY = 256 * 1024
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass
class Sink:
    name: str
    received: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_RECEIVED))
    fail_next: int = 0
    fail_status: int = 500
    total: int = 0

    def render(self, url: str, full: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "url": url,
            "received_count": self.total,
            "behaviour": {"status": self.fail_status, "next": self.fail_next},
        }
        if full:
            out["received"] = list(self.received)
        return out


class Sinks:
    def __init__(self) -> None:
        self.orgs: dict[str, dict[str, Sink]] = {}

    def of(self, org: str) -> dict[str, Sink]:
        return self.orgs.setdefault(org, {})

    def receive(self, sink: Sink, headers: dict[str, str], body: bytes) -> int:
        """Record one arrival; the status the sink answers with."""
        sink.total += 1
        failing = sink.fail_next > 0
        if failing:
            sink.fail_next -= 1
        status = sink.fail_status if failing else 200
        sink.received.append(
            {
                "seq": sink.total,
                "at": time.time(),
                "headers": headers,
                "body": body[:MAX_BODY].decode("utf-8", "replace"),
                "answered": status,
            }
        )
        return status
