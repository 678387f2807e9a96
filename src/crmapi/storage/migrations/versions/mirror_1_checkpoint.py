"""mirror (the checkpoint of ``crmapi import --from``, per organization and source)

Revision ID: mirror_1
Revises: sequences_1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "mirror_1"
down_revision: str | None = "sequences_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mirror_checkpoint",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("date_updated", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "source", name=op.f("pk_mirror_checkpoint")),
    )


def downgrade() -> None:
    op.drop_table("mirror_checkpoint")
