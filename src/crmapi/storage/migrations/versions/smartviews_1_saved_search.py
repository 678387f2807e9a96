"""smart views (saved searches: an Advanced Filtering s_query or a legacy text query)

Revision ID: smartviews_1
Revises: config_1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "smartviews_1"
down_revision: str | None = "config_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "saved_search",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("s_query", JSON, nullable=True),
        sa.Column("is_shared", sa.Boolean(), nullable=False),
        sa.Column("shared_with", JSON, nullable=True),
        sa.Column("selected_fields", JSON, nullable=True),
        sa.Column("is_user_dependent", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("sharing_updated_by", sa.String(length=64), nullable=True),
        sa.Column("date_sharing_updated", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("date_created", sa.String(length=32), nullable=False),
        sa.Column("date_updated", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_saved_search")),
    )
    op.create_index(
        op.f("ix_saved_search_organization_id_type_date_created_id"),
        "saved_search",
        ["organization_id", "type", "date_created", "id"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_saved_search_organization_id_type_date_created_id"), table_name="saved_search"
    )
    op.drop_table("saved_search")
