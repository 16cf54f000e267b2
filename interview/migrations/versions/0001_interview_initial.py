"""The first interview schema: people, sessions, responses, estimates, review cards and
item calibrations.

Revision ID: interview_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage import UTCDateTime

revision = "interview_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interview_users",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "interview_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user", sa.String(200), sa.ForeignKey("interview_users.name"), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("current_item", sa.String(200), nullable=True),
        sa.Column("served_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_interview_sessions_user", "interview_sessions", ["user"])
    op.create_table(
        "interview_responses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "session_id",
            sa.String(36),
            sa.ForeignKey("interview_sessions.id"),
            nullable=False,
        ),
        sa.Column("item_id", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("feedback", sa.JSON(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("session_id", "position", name="uq_interview_responses_position"),
    )
    op.create_table(
        "interview_estimates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "session_id",
            sa.String(36),
            sa.ForeignKey("interview_sessions.id"),
            nullable=False,
        ),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("theta", sa.Float(), nullable=False),
        sa.Column("se", sa.Float(), nullable=False),
        sa.Column("n_items", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_interview_estimates_session_id", "interview_estimates", ["session_id"])
    op.create_table(
        "interview_review_cards",
        sa.Column("user", sa.String(200), sa.ForeignKey("interview_users.name"), nullable=False),
        sa.Column("item_id", sa.String(200), nullable=False),
        sa.Column("card", sa.Text(), nullable=False),
        sa.Column("due", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user", "item_id", name="pk_interview_review_cards"),
    )
    op.create_table(
        "interview_calibrations",
        sa.Column("item_id", sa.String(200), primary_key=True),
        sa.Column("a", sa.Float(), nullable=False),
        sa.Column("b", sa.Float(), nullable=False),
        sa.Column("n_responses", sa.Integer(), nullable=False),
        sa.Column("fitted_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("interview_calibrations")
    op.drop_table("interview_review_cards")
    op.drop_index("ix_interview_estimates_session_id", "interview_estimates")
    op.drop_table("interview_estimates")
    op.drop_table("interview_responses")
    op.drop_index("ix_interview_sessions_user", "interview_sessions")
    op.drop_table("interview_sessions")
    op.drop_table("interview_users")
