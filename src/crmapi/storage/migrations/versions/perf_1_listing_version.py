"""listing versions: a per-organization counter bumped by triggers on every activity write

Revision ID: perf_1
Revises: schemas_1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "perf_1"
down_revision: str | None = "schemas_1"
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
# PostgreSQL: a deferred (constraint) row trigger, so the version row is locked only while
# the transaction commits, not from its first activity write on (writers of one
# organization queue on that row). The first row of a transaction bumps; the others see
# the transaction-local mark and return, so a COPY of a million rows bumps once.
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION crmapi_bump_activity_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  org text;
  mark text;
BEGIN
  IF TG_OP = 'DELETE' THEN org := OLD.organization_id; ELSE org := NEW.organization_id; END IF;
  -- Organizations bumped by this transaction (one setting, reset when it ends).
  mark := coalesce(current_setting('crmapi.bumped', true), '');
  IF position(',' || org || ',' IN mark) > 0 THEN RETURN NULL; END IF;
  PERFORM set_config('crmapi.bumped', coalesce(nullif(mark, ''), ',') || org || ',', true);
  INSERT INTO listing_version (organization_id, listing, version)
  VALUES (org, 'activity', (random() * 1e15)::bigint)
  ON CONFLICT (organization_id, listing)
  DO UPDATE SET version = listing_version.version + 1;
  RETURN NULL;
END $$
"""
PG_TRIGGER = """
CREATE CONSTRAINT TRIGGER activity_listing_version AFTER INSERT OR UPDATE OR DELETE
ON activity DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
EXECUTE FUNCTION crmapi_bump_activity_version()
"""
EVENTS = (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD"))  # SQLite: one trigger each


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
    op.execute(PG_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event, _ in EVENTS:
            op.execute(f"DROP TRIGGER IF EXISTS activity_listing_version_{event.upper()}")
    else:
        op.execute("DROP TRIGGER IF EXISTS activity_listing_version ON activity")
        op.execute("DROP FUNCTION IF EXISTS crmapi_bump_activity_version()")
    op.drop_table("listing_version")
