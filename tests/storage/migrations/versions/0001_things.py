"""The contract suite's one table: things with a unique name and a time.

Revision ID: 0001
Revises:
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
    # Fails if run twice on one database: concurrent opens must migrate exactly once.
    op.create_table(
        "things",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("at", UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("things")
