"""Bring a database's schema to the newest revision (Alembic), as ``crmapi serve`` does at start."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from crmapi.storage.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant shared by every crmapi host: the advisory lock serialising migrations.
MIGRATION_LOCK = 0x63726D6170690001


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def heads() -> list[str]:
    """The newest revision(s) of the migration chain (one, unless branches were left unjoined)."""
    return list(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def upgrade(db: Database) -> None:
    """Create or migrate the schema in one transaction (PostgreSQL DDL is transactional).

    On PostgreSQL the transaction first takes an advisory lock: when N hosts start at once,
    one migrates and the others wait, then find the schema at head and do nothing.
    """
    config = alembic_config(db.url)
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def revision(db: Database, message: str) -> None:
    """Autogenerate a migration from the difference between ``tables.py`` and ``db``."""
    config = alembic_config(db.url)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.revision(config, message=message, autogenerate=True)
