"""What a resource's ``sample`` draws from: the seeder's generator, and the words of a
realistic CRM (people, companies, titles).

A resource declares ``sample`` on its ``ResourceSpec`` (``leads.sample``, ``contacts.sample``);
``crmapi seed`` and the demo make every sampled resource through it, in registry order, so a
new resource seeds itself the moment it declares one. Everything comes from ``rng``: a seed
always gives the same rows.
"""

import random
from datetime import datetime
from typing import Any, Protocol


class Sampler(Protocol):
    """The generator (``seed.Generator``) as a resource's sample sees it."""

    rng: random.Random
    org_id: str
    users: list[str]
    lead_statuses: list[dict[str, Any]]

    def new_id(self, prefix: str) -> str: ...

    def created(self, lead_id: str) -> datetime:
        """A moment for a new lead, remembered: its activities come after it."""
        ...


FIRST = [
    "Ada",
    "Grace",
    "Linus",
    "Barbara",
    "Ken",
    "Margaret",
    "Dennis",
    "Frances",
    "Alan",
    "Katherine",
    "Edsger",
    "Radia",
    "Donald",
    "Hedy",
    "John",
    "Sophie",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Torvalds",
    "Liskov",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Allen",
    "Turing",
    "Johnson",
    "Dijkstra",
    "Perlman",
    "Knuth",
    "Lamarr",
    "Backus",
    "Wilson",
]
COMPANY = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Vandelay",
    "Pied Piper",
    "Aperture",
    "Massive Dynamic",
]
SUFFIX = ["Inc", "LLC", "Corp", "Labs", "Group", "Systems", "Partners"]
TITLES = ["CEO", "CTO", "VP Sales", "Buyer"]
