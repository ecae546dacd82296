"""Revocable access and a throttle in the store (issue 16)

Revision ID: 0010_revocable_access
Revises: 0009_judgement_axes
Create Date: 2026-12-01 15:30:00

- `users.session_version`: a console session names the version it was issued under; logout,
  disabling, a team/role change or a new password bump it, so older cookies stop working.
- `api_tokens.expires_at`, `api_tokens.last_used_at`: expiry and last use of each token.
- `audit_log`: access events that belong to no ticket (sign-in, lockout, user and token changes).
- `login_throttle`: failed sign-ins per (user, client), shared by every API process.
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_revocable_access"
down_revision = "0009_judgement_axes"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Add the session version, token expiry/last use, the audit log and the throttle table."""
    op.add_column("users", sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_tokens", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "audit_log",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(120), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_login_throttle"),
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_table("login_throttle")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    with op.batch_alter_table("api_tokens") as b:
        b.drop_column("last_used_at")
        b.drop_column("expires_at")
    with op.batch_alter_table("users") as b:
        b.drop_column("session_version")
