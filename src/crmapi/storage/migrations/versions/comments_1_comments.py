"""comments and comment threads on activities and opportunities

Revision ID: comments_1
Revises: mirror_1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "comments_1"
down_revision: str | None = "mirror_1"
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
        "comment_thread",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.String(length=64), nullable=True),
        *_audit(),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_comment_thread")),
        sa.UniqueConstraint(
            "organization_id", "object_id", name=op.f("uq_comment_thread_organization_id_object_id")
        ),
    )
    op.create_index(
        op.f("ix_comment_thread_organization_id_lead_id"),
        "comment_thread",
        ["organization_id", "lead_id"],
    )
    op.create_index(
        op.f("ix_comment_thread_organization_id_date_created_id"),
        "comment_thread",
        ["organization_id", "date_created", "id"],
    )
    op.create_table(
        "comment",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("thread_id", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.String(length=64), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("mentions", JSON, nullable=False),
        sa.Column("removed_at", sa.String(length=32), nullable=True),
        sa.Column("removed_by", sa.String(length=64), nullable=True),
        *_audit(),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_comment")),
    )
    op.create_index(
        op.f("ix_comment_organization_id_thread_id_date_created_id"),
        "comment",
        ["organization_id", "thread_id", "date_created", "id"],
    )
    op.create_index(
        op.f("ix_comment_organization_id_lead_id"), "comment", ["organization_id", "lead_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_comment_organization_id_lead_id"), table_name="comment")
    op.drop_index(
        op.f("ix_comment_organization_id_thread_id_date_created_id"), table_name="comment"
    )
    op.drop_table("comment")
    op.drop_index(
        op.f("ix_comment_thread_organization_id_date_created_id"), table_name="comment_thread"
    )
    op.drop_index(op.f("ix_comment_thread_organization_id_lead_id"), table_name="comment_thread")
    op.drop_table("comment_thread")
