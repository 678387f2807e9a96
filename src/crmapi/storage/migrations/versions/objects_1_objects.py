"""configuration and activity-side objects (outcomes)

Revision ID: objects_1
Revises: emu2_1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "objects_1"
down_revision: str | None = "emu2_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outcome",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("date_deleted", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("date_created", sa.String(length=32), nullable=False),
        sa.Column("date_updated", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_outcome")),
    )


def downgrade() -> None:
    op.drop_table("outcome")
