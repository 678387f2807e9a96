"""email follow-ups (an email's followup_date, due work of the clock)

Revision ID: followups_1
Revises: objects_1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "followups_1"
down_revision: str | None = "objects_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_followup",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.String(length=32), nullable=False),
        sa.Column("date_created", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id", "id"],
            ["activity.organization_id", "activity.id"],
            name=op.f("fk_email_followup_organization_id_id_activity"),
            ondelete="CASCADE",
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_email_followup")),
    )
    op.create_index(op.f("ix_email_followup_due_at"), "email_followup", ["due_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_email_followup_due_at"), table_name="email_followup")
    op.drop_table("email_followup")
