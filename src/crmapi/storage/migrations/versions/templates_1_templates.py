"""email and SMS templates

Revision ID: templates_1
Revises: bulk_1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "templates_1"
down_revision: str | None = "bulk_1"
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
        "email_template",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("is_shared", sa.Boolean(), nullable=False),
        sa.Column("is_archived", sa.Boolean(), nullable=False),
        sa.Column("attachments", JSON, nullable=False),
        sa.Column("cc", JSON, nullable=False),
        sa.Column("bcc", JSON, nullable=False),
        *_audit(),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_email_template")),
    )
    op.create_index(
        op.f("ix_email_template_organization_id_date_created_id"),
        "email_template",
        ["organization_id", "date_created", "id"],
    )
    op.create_table(
        "sms_template",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("is_shared", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owned_by", sa.String(length=64), nullable=True),
        sa.Column("attachments", JSON, nullable=False),
        *_audit(),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_sms_template")),
    )
    op.create_index(
        op.f("ix_sms_template_organization_id_date_created_id"),
        "sms_template",
        ["organization_id", "date_created", "id"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sms_template_organization_id_date_created_id"), "sms_template")
    op.drop_table("sms_template")
    op.drop_index(op.f("ix_email_template_organization_id_date_created_id"), "email_template")
    op.drop_table("email_template")
