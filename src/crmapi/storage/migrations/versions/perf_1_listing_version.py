"""listing versions: a per-organization counter bumped by triggers on every activity write

Revision ID: perf_1
Revises: exports_1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "perf_1"
down_revision: str | None = "exports_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Triggers, not application code: every path that writes activities (API, bulk actions,
# imports, restores, cascades) bumps the version, or seek paging could return stale pages.
SQLITE_TRIGGER = """
CREATE TRIGGER activity_listing_version_{event} AFTER {event} ON activity BEGIN
  INSERT INTO listing_version (organization_id, listing, version)
  VALUES ({row}.organization_id, 'activity', abs(random() % 1000000000000000))
  ON CONFLICT (organization_id, listing) DO UPDATE SET version = version + 1;
END
"""
# One statement-level trigger per event (transition tables): a COPY of a million rows bumps
# each organization once, not a million times.
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION crmapi_bump_activity_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO listing_version (organization_id, listing, version)
  SELECT o, 'activity', (random() * 1e15)::bigint
  FROM (SELECT DISTINCT organization_id AS o FROM changed) AS orgs
  ON CONFLICT (organization_id, listing)
  DO UPDATE SET version = listing_version.version + 1;
  RETURN NULL;
END $$
"""
PG_TRIGGER = """
CREATE TRIGGER activity_listing_version_{event} AFTER {event} ON activity
REFERENCING {side} TABLE AS changed FOR EACH STATEMENT
EXECUTE FUNCTION crmapi_bump_activity_version()
"""
EVENTS = (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD"))


def upgrade() -> None:
    op.create_table(
        "listing_version",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("listing", sa.String(length=40), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "listing", name=op.f("pk_listing_version")),
    )
    if op.get_bind().dialect.name == "sqlite":
        for event, row in EVENTS:
            op.execute(SQLITE_TRIGGER.format(event=event.upper(), row=row))
        return
    op.execute(PG_FUNCTION)
    for event, side in EVENTS:
        op.execute(PG_TRIGGER.format(event=event.upper(), side=side))


def downgrade() -> None:
    for event, _ in EVENTS:
        op.execute(f"DROP TRIGGER IF EXISTS activity_listing_version_{event.upper()} ON activity"
                   if op.get_bind().dialect.name != "sqlite"
                   else f"DROP TRIGGER IF EXISTS activity_listing_version_{event.upper()}")
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS crmapi_bump_activity_version()")
    op.drop_table("listing_version")
