"""The resources that belong to a lead, for the lead's own code (embedding, delete, merge).

A slot the registry fills: ``crmapi/registry.py`` imports every resource module, leads
included, and installs its lead children here when it is imported, so ``leads.py`` and
``merge.py`` read them without importing the registry (or the children) back. Every entry
point (the app, the CLI, the seeder) imports the registry before serving anything.
"""

from collections.abc import Iterable

from crmapi.resources.spec import ResourceSpec

# In registry order: a merge moves them (with their events) in this order, a lead delete
# removes them in the reverse one.
LEAD_CHILDREN: list[ResourceSpec] = []


def install(resources: Iterable[ResourceSpec]) -> tuple[ResourceSpec, ...]:
    """Register the lead children among every declared resource (in place)."""
    LEAD_CHILDREN[:] = [spec for spec in resources if spec.lead_child]
    return tuple(LEAD_CHILDREN)
