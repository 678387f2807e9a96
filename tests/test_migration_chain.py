"""Branches add migrations in parallel: the chain must stay one line with a single head."""

from crmapi.storage import migrate


def test_the_migration_chain_has_one_head() -> None:
    assert len(migrate.heads()) == 1, migrate.heads()
