"""sequences and sequence subscriptions

Revision ID: sequences_1
Revises: perf_1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "sequences_1"
down_revision: str | None = "perf_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _audit() -> list[sa.Column[object]]:
    return [
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("date_created", sa.String(length=32), nullable=False),
        sa.Column("date_updated", sa.String(length=32), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "sequence",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("steps", JSON, nullable=False),
        sa.Column("data", JSON, nullable=False),
        *_audit(),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_sequence")),
    )
    op.create_index(
        op.f("ix_sequence_organization_id_date_created_id"),
        "sequence",
        ["organization_id", "date_created", "id"],
    )
    op.create_table(
        "sequence_subscription",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("sequence_id", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=64), nullable=True),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.String(length=32), nullable=True),
        sa.Column("data", JSON, nullable=False),
        *_audit(),
        sa.ForeignKeyConstraint(
            ["organization_id", "lead_id"],
            ["lead.organization_id", "lead.id"],
            name=op.f("fk_sequence_subscription_organization_id_lead_id_lead"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_sequence_subscription")),
    )
    for columns in (
        ["organization_id", "sequence_id", "date_created", "id"],
        ["organization_id", "contact_id"],
        ["organization_id", "lead_id"],
        ["due_at"],
    ):
        op.create_index(
            op.f("ix_sequence_subscription_" + "_".join(columns)), "sequence_subscription", columns
        )


def downgrade() -> None:
    op.drop_table("sequence_subscription")
    op.drop_table("sequence")
