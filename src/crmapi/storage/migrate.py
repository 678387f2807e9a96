"""Bring a database's schema to the newest revision (Alembic), as ``crmapi serve`` does at start."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from crmapi.storage.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(db: Database) -> None:
    """Create or migrate the schema in one transaction (PostgreSQL DDL is transactional)."""
    config = alembic_config(db.url)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def revision(db: Database, message: str) -> None:
    """Autogenerate a migration from the difference between ``tables.py`` and ``db``."""
    config = alembic_config(db.url)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.revision(config, message=message, autogenerate=True)
