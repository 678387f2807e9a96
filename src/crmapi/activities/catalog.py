"""The activity types the store and the write path look types up in, by name.

A slot the registry fills: ``activities/registry.py`` imports every type module and installs
their specs here when it is imported, so the store and the write path (which the types' hooks
call) never import the types back. Nothing reads it before the registry is imported: every
entry point (the app, the CLI, the seeder) goes through ``crmapi.registry``.
"""

from collections.abc import Iterable

from crmapi.activities.spec import ActivitySpec

BY_TYPE: dict[str, ActivitySpec] = {}


def install(specs: Iterable[ActivitySpec]) -> dict[str, ActivitySpec]:
    """Register every declared type (in place: modules hold this very dict)."""
    BY_TYPE.clear()
    BY_TYPE.update((spec.type, spec) for spec in specs)
    return BY_TYPE
