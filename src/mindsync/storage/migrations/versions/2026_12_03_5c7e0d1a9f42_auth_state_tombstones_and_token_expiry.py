"""auth state, erasure tombstones, server keys, token expiry and public ids

Revision ID: 5c7e0d1a9f42
Revises: b88aa4abb8d3
Create Date: 2026-12-03 07:40:00

- ``auth_state``: one row whose ``generation`` grows with every revocation, rotation and
  erasure; each worker polls it to drop its token cache (revocation across replicas).
- ``server_keys``: the generated audit-pseudonym key when none is configured.
- ``erased_users``: keyed pseudonyms of erased user ids (tombstones, never the id itself).
- ``api_tokens.expires_at``; ``api_tokens.prefix`` now holds a random public id (``tok_…``)
  instead of the first characters of the secret: existing rows are rewritten.
- Indexes on ``sessions.created_at``: retention and trends read the server's clock.
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c7e0d1a9f42"
down_revision: str | None = "b88aa4abb8d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    auth_state = op.create_table(
        "auth_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_state")),
    )
    op.bulk_insert(auth_state, [{"id": 1, "generation": 0}])
    op.create_table(
        "server_keys",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_keys")),
    )
    op.create_table(
        "erased_users",
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pseudonym", name=op.f("pk_erased_users")),
    )
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    connection = op.get_bind()
    tokens = sa.table("api_tokens", sa.column("id", sa.Integer), sa.column("prefix", sa.String))
    for (token_id,) in connection.execute(sa.select(tokens.c.id)).all():
        connection.execute(
            tokens.update()
            .where(tokens.c.id == token_id)
            .values(prefix="tok_" + secrets.token_hex(4))
        )
    op.create_index("ix_sessions_created_at", "sessions", ["created_at"])
    op.create_index("ix_sessions_user_id_created_at", "sessions", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_sessions_user_id_created_at", table_name="sessions")
    op.drop_index("ix_sessions_created_at", table_name="sessions")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
    op.drop_table("erased_users")
    op.drop_table("server_keys")
    op.drop_table("auth_state")
