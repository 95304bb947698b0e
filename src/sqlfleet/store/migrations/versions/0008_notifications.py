"""Webhook notifications: a job version's webhooks, and every notification sent.

Revision ID: 0008
Revises: 0007
`job_webhook` keeps each job version's webhooks (URL and notify secret encrypted);
`notification_delivery` records each notification to each webhook: an outbox written when
an execution ends or a rollout halts, then claimed, sent and marked delivered or failed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_webhook",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("job_version", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url_shown", sa.String(length=1024), nullable=False),
        sa.Column("url_token", sa.Text(), nullable=False),
        sa.Column("notify_on", sa.String(length=16), nullable=False),
        sa.Column("secret_token", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id", "job_version"],
            ["job_version.job_id", "job_version.version"],
            name=op.f("fk_job_webhook_job_id_job_version_job_version"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_webhook")),
        sa.UniqueConstraint(
            "job_id",
            "job_version",
            "position",
            name=op.f("uq_job_webhook_job_id_job_version_position"),
        ),
    )
    op.create_table(
        "notification_delivery",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_execution_id", sa.Integer(), nullable=False),
        sa.Column("step_execution_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("webhook", sa.String(length=1024), nullable=False),
        sa.Column("url_token", sa.Text(), nullable=True),
        sa.Column("secret_token", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_reason", sa.Text(), nullable=True),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_execution_id"],
            ["job_execution.id"],
            name=op.f("fk_notification_delivery_job_execution_id_job_execution"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_delivery")),
    )
    op.create_index(
        op.f("ix_notification_delivery_job_execution_id"),
        "notification_delivery",
        ["job_execution_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_notification_delivery_state_lease_expires_at"),
        "notification_delivery",
        ["state", "lease_expires_at"],
        unique=False,
    )


def downgrade() -> None:
    raise NotImplementedError("sqlfleet's migrations are forward-only")
