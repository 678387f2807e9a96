"""Who is calling: every storage call takes this, so every query can be scoped."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    organization_id: str
    user_id: str
    api_key_id: str | None = None
    oauth_client_id: str | None = None
