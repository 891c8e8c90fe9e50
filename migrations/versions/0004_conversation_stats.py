"""conversation_stats: anonymous counts per day and gemeente for the results page

Counted from the tracker store by the maintenance job before the retention purge, so the figures stay
after the conversations are gone (bot/conversation/stats.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 07:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conversation_stats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('gemeente_id', sa.String(length=80), nullable=False),
    sa.Column('conversations', sa.Integer(), nullable=False),
    sa.Column('questions', sa.Integer(), nullable=False),
    sa.Column('answered_direct', sa.Integer(), nullable=False),
    sa.Column('answered_after_followup', sa.Integer(), nullable=False),
    sa.Column('unanswered', sa.Integer(), nullable=False),
    sa.Column('handed_off', sa.Integer(), nullable=False),
    sa.Column('knelpunten', sa.Integer(), nullable=False),
    sa.Column('fallback_messages', sa.Integer(), nullable=False),
    sa.Column('thumbs_up', sa.Integer(), nullable=False),
    sa.Column('thumbs_down', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_stats')),
    sa.UniqueConstraint('day', 'gemeente_id', name=op.f('uq_conversation_stats_day'))
    )


def downgrade() -> None:
    op.drop_table('conversation_stats')
