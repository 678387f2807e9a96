"""configuration objects Airbyte lists (roles, groups, connected accounts, send-as, integration
links, phone numbers, dialers)

Revision ID: config_1
Revises: templates_1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "config_1"
down_revision: str | None = "templates_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
ID = sa.String(length=64)
TS = sa.String(length=32)

# Each table: its filter columns between the organization and the ``data`` document.
TABLES: dict[str, list[sa.Column[object]]] = {
    "role": [sa.Column("name", sa.String(length=255), nullable=False)],
    "user_group": [sa.Column("name", sa.String(length=255), nullable=False)],
    "connected_account": [
        sa.Column("user_id", ID, nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
    ],
    "send_as": [
        sa.Column("allowing_user_id", ID, nullable=False),
        sa.Column("allowed_user_id", ID, nullable=False),
    ],
    "integration_link": [
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
    ],
    "phone_number": [
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("is_group_number", sa.Boolean(), nullable=False),
        sa.Column("participants", JSON, nullable=False),
    ],
    "dialer": [
        sa.Column("user_id", ID, nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("source_value", sa.String(length=255), nullable=False),
    ],
}


def upgrade() -> None:
    for name, columns in TABLES.items():
        op.create_table(
            name,
            sa.Column("id", ID, nullable=False),
            sa.Column("organization_id", ID, nullable=False),
            *columns,
            sa.Column("data", JSON, nullable=False),
            sa.Column("created_by", ID, nullable=True),
            sa.Column("updated_by", ID, nullable=True),
            sa.Column("date_created", TS, nullable=False),
            sa.Column("date_updated", TS, nullable=False),
            sa.PrimaryKeyConstraint("organization_id", "id", name=op.f(f"pk_{name}")),
        )
        op.create_index(
            op.f(f"ix_{name}_organization_id_date_created_id"),
            name,
            ["organization_id", "date_created", "id"],
        )


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_index(op.f(f"ix_{name}_organization_id_date_created_id"), table_name=name)
        op.drop_table(name)
