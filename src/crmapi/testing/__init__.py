"""crmapi's pytest plugin, for teams that test their Close integration against crmapi.

Installed with the package (entry point ``pytest11: crmapi``). Fixtures:

- ``crmapi_server`` (session): a real ``crmapi serve`` on a free local port, with SQLite in
  a temporary directory (or ``--crmapi-database-url``), or an already running server
  (``--crmapi-url`` with ``CRMAPI_ADMIN_TOKEN``).
- ``crmapi_org`` (per test): an ``EmulatorOrg``, a fresh organization restored from the
  session's baseline snapshot as a new organization, with ``base_url`` and ``api_key`` for
  ``closeio``, ``requests`` or ``httpx``, and ``clock``, ``outbox`` and ``helpers``.
- ``crmapi_clock`` / ``crmapi_outbox``: that organization's clock and outbox.

See docs/testing.md.
"""

from crmapi.testing.client import Clock, EmulatorOrg, Outbox, PlaneSession
from crmapi.testing.server import EmulatorServer

__all__ = ["Clock", "EmulatorOrg", "EmulatorServer", "Outbox", "PlaneSession"]
