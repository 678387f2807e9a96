"""bulk actions (edit and delete over a search, run by the clock's due work)

Revision ID: bulk_1
Revises: followups_1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "bulk_1"
down_revision: str | None = "followups_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "bulk_action",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("selection", JSON, nullable=True),
        sa.Column("n_leads", sa.Integer(), nullable=True),
        sa.Column("n_leads_processed", sa.Integer(), nullable=False),
        sa.Column("n_objects", sa.Integer(), nullable=True),
        sa.Column("n_objects_processed", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("date_created", sa.String(length=32), nullable=False),
        sa.Column("date_updated", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_bulk_action")),
    )
    op.create_index(
        op.f("ix_bulk_action_organization_id_kind_date_created_id"),
        "bulk_action",
        ["organization_id", "kind", "date_created", "id"],
    )
    op.create_index(op.f("ix_bulk_action_due_at"), "bulk_action", ["due_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_bulk_action_due_at"), table_name="bulk_action")
    op.drop_index(
        op.f("ix_bulk_action_organization_id_kind_date_created_id"), table_name="bulk_action"
    )
    op.drop_table("bulk_action")
