"""lead search: activities by lead and type; GIN on contact emails/phones (PostgreSQL)

Revision ID: search_1
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "search_1"
down_revision: str | None = "emu1_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The expressions of tables.py's contact search indexes (and of search/compile.py's tests).
GIN_INDEXES = {
    "ix_contact_emails_search": "(lower(emails::text)::jsonb) jsonb_path_ops",
    "ix_contact_phones_search": "phones jsonb_path_ops",
}
ACTIVITY_INDEX = "ix_activity_organization_id_lead_id_type_date_created"


def upgrade() -> None:
    op.create_index(
        ACTIVITY_INDEX, "activity", ["organization_id", "lead_id", "type", "date_created"]
    )
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite cannot index JSON list items; see tables.py
    for name, expression in GIN_INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON contact USING gin ({expression})")


def downgrade() -> None:
    op.drop_index(ACTIVITY_INDEX, table_name="activity")
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in GIN_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
