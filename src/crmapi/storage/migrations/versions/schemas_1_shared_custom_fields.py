"""shared custom fields: their associations with object types (and schema positions)

Revision ID: schemas_1
Revises: exports_1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "schemas_1"
down_revision: str | None = "exports_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "custom_field_association",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("custom_field_id", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=96), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("custom_activity_type_id", sa.String(length=64), nullable=True),
        sa.Column("editable_with_roles", JSON, nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("date_created", sa.String(length=32), nullable=False),
        sa.Column("date_updated", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint(
            "organization_id",
            "custom_field_id",
            "target",
            name=op.f("pk_custom_field_association"),
        ),
    )
    op.create_index(
        op.f("ix_custom_field_association_organization_id_target_position"),
        "custom_field_association",
        ["organization_id", "target", "position"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_custom_field_association_organization_id_target_position"),
        table_name="custom_field_association",
    )
    op.drop_table("custom_field_association")
