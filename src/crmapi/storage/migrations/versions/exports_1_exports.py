"""exports (lead and opportunity exports to a gzipped file, run by the clock's due work)

Revision ID: exports_1
Revises: smartviews_1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "exports_1"
down_revision: str | None = "smartviews_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "export",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("selection", JSON, nullable=True),
        sa.Column("n_docs", sa.Integer(), nullable=True),
        sa.Column("n_docs_processed", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("date_created", sa.String(length=32), nullable=False),
        sa.Column("date_updated", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_export")),
    )
    op.create_index(
        op.f("ix_export_organization_id_kind_date_created_id"),
        "export",
        ["organization_id", "kind", "date_created", "id"],
    )
    op.create_index(op.f("ix_export_due_at"), "export", ["due_at"])
    op.create_table(
        "export_part",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("export_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "organization_id", "export_id", "seq", name=op.f("pk_export_part")
        ),
    )
    op.create_table(
        "export_file",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("export_id", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "export_id", name=op.f("pk_export_file")),
    )


def downgrade() -> None:
    op.drop_table("export_file")
    op.drop_table("export_part")
    op.drop_index(op.f("ix_export_due_at"), table_name="export")
    op.drop_index(op.f("ix_export_organization_id_kind_date_created_id"), table_name="export")
    op.drop_table("export")
