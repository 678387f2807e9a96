"""emulator state: per-organization clock and id seed; due time of scheduled messages

Revision ID: emu1_1
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "emu1_1"
down_revision: str | None = "scale_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "emulator_org",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("clock_mode", sa.String(length=16), nullable=False),
        sa.Column("clock_offset_seconds", sa.Float(), nullable=False),
        sa.Column("clock_frozen_at", sa.String(length=32), nullable=True),
        sa.Column("id_seed", sa.BigInteger(), nullable=True),
        sa.Column("seed_pack", sa.String(length=32), nullable=False),
        sa.Column("date_updated", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_emulator_org")),
    )
    op.create_table(
        "emulator_outbox_cleared",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("activity_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint(
            "organization_id", "activity_id", name=op.f("pk_emulator_outbox_cleared")
        ),
    )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_at", sa.String(length=32), nullable=True))
    op.create_index(
        "ix_activity_due",
        "activity",
        ["due_at"],
        unique=False,
        sqlite_where=sa.text("due_at IS NOT NULL"),
        postgresql_where=sa.text("due_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_activity_due", table_name="activity")
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_column("due_at")
    op.drop_table("emulator_outbox_cleared")
    op.drop_table("emulator_org")
