"""The first schema: competitions, runs, submissions, leaderboard snapshots and entries.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "competitions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("title", sa.String(300), nullable=True),
        sa.Column("metric", sa.String(100), nullable=True),
        sa.Column("deadline", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("host", "name", name="uq_competitions_host_name"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("competition_id", sa.Integer(), sa.ForeignKey("competitions.id"), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("cv_mean", sa.Float(), nullable=True),
        sa.Column("cv_std", sa.Float(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("device", sa.String(50), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_runs_competition_id", "runs", ["competition_id"])
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("competition_id", sa.Integer(), sa.ForeignKey("competitions.id"), nullable=False),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("file_path", sa.Text(), nullable=True),
        sa.Column("file_hash", sa.String(64), nullable=True),
        sa.Column("file_name", sa.String(300), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("cv_score", sa.Float(), nullable=True),
        sa.Column("remote_ref", sa.String(100), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("public_score", sa.Float(), nullable=True),
        sa.Column("private_score", sa.Float(), nullable=True),
        sa.Column("public_score_raw", sa.String(50), nullable=True),
        sa.Column("private_score_raw", sa.String(50), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("competition_id", "remote_ref", name="uq_submissions_competition_ref"),
    )
    op.create_index("ix_submissions_competition_id", "submissions", ["competition_id"])
    op.create_table(
        "leaderboard_snapshots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("competition_id", sa.Integer(), sa.ForeignKey("competitions.id"), nullable=False),
        sa.Column("board", sa.String(10), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("taken_at", UTCDateTime(), nullable=False),
        sa.Column("team_count", sa.Integer(), nullable=False),
        sa.Column("our_team", sa.String(300), nullable=True),
        sa.Column("our_rank", sa.Integer(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("competition_id", "board", "sequence", name="uq_snapshots_sequence"),
    )
    op.create_index(
        "ix_leaderboard_snapshots_competition_id", "leaderboard_snapshots", ["competition_id"]
    )
    op.create_table(
        "leaderboard_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "snapshot_id", sa.Integer(), sa.ForeignKey("leaderboard_snapshots.id"), nullable=False
        ),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(100), nullable=False),
        sa.Column("team_name", sa.String(300), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("score_raw", sa.String(50), nullable=False),
        sa.Column("submission_date", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_leaderboard_entries_snapshot_id", "leaderboard_entries", ["snapshot_id"])


def downgrade() -> None:
    op.drop_table("leaderboard_entries")
    op.drop_table("leaderboard_snapshots")
    op.drop_table("submissions")
    op.drop_table("runs")
    op.drop_table("competitions")
