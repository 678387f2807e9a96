"""scale-out: shard-ready credential keys, delivery leases, job leases, shared rate limits

Revision ID: scale_1
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "scale_1"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One round trip per request: lock the request's buckets in a fixed order (organization
# first, so two keys of one organization never deadlock), start a new window where the old
# one has passed, and count the request in every bucket only when none is exhausted. The
# database's clock is the one clock every host shares.
RATE_HIT = """
CREATE OR REPLACE FUNCTION crmapi_rate_hit(
    org text, buckets text[], limits integer[], win double precision,
    OUT allowed boolean, OUT now_s double precision, OUT starts double precision[],
    OUT counts integer[])
LANGUAGE plpgsql AS $$
DECLARE
    s double precision;
    u integer;
BEGIN
    now_s := extract(epoch FROM clock_timestamp());
    allowed := true;
    starts := '{}';
    counts := '{}';
    FOR i IN 1 .. array_length(buckets, 1) LOOP
        -- Primary-key lookups only: a join here became a scan of the dead row versions
        -- every update leaves, slower with each request until a vacuum.
        SELECT w.window_start, w.used INTO s, u FROM rate_limit_window w
            WHERE w.organization_id = org AND w.bucket = buckets[i] FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO rate_limit_window AS w (organization_id, bucket, window_start, used)
                VALUES (org, buckets[i], now_s, 0)
                ON CONFLICT (organization_id, bucket) DO UPDATE SET used = w.used
                RETURNING w.window_start, w.used INTO s, u;
        END IF;
        IF now_s - s >= win THEN
            s := now_s;
            u := 0;
        END IF;
        starts[i] := s;
        counts[i] := u;
        IF u >= limits[i] THEN
            allowed := false;
        END IF;
    END LOOP;
    IF allowed THEN
        FOR i IN 1 .. array_length(buckets, 1) LOOP
            UPDATE rate_limit_window w SET window_start = starts[i], used = counts[i] + 1
                WHERE w.organization_id = org AND w.bucket = buckets[i];
        END LOOP;
    END IF;
END
$$
"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, column in (("api_key", "key_hash"), ("access_token", "token_hash")):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"uq_{table}_{column}", type_="unique")
            batch.create_unique_constraint(
                f"uq_{table}_organization_id_{column}", ["organization_id", column]
            )
            batch.create_index(f"ix_{table}_{column}", [column])
    with op.batch_alter_table("webhook_delivery") as batch:
        batch.add_column(sa.Column("leased_by", sa.String(length=64), nullable=True))
    op.create_table(
        "background_job",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("next_run_at", sa.String(length=32), nullable=False),
        sa.Column("leased_by", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("organization_id", "name", name=op.f("pk_background_job")),
    )
    op.create_index("ix_background_job_due", "background_job", ["name", "next_run_at"])
    op.create_table(
        "rate_limit_window",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.Float(precision=53), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "bucket", name=op.f("pk_rate_limit_window")),
        prefixes=["UNLOGGED"] if postgres else [],
    )
    if postgres:
        op.execute(RATE_HIT)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS crmapi_rate_hit(text, text[], integer[], float8)")
    op.drop_table("rate_limit_window")
    op.drop_index("ix_background_job_due", table_name="background_job")
    op.drop_table("background_job")
    with op.batch_alter_table("webhook_delivery") as batch:
        batch.drop_column("leased_by")
    for table, column in (("api_key", "key_hash"), ("access_token", "token_hash")):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_{column}")
            batch.drop_constraint(f"uq_{table}_organization_id_{column}", type_="unique")
            batch.create_unique_constraint(f"uq_{table}_{column}", [column])
