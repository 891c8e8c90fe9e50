"""review_stamps: a person checked an entry's text against its source

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 06:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Not a content table: `loket knowledge load` never touches it, so stamps survive reloads.
    op.create_table('review_stamps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('item_id', sa.String(length=80), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('source_url', sa.String(length=500), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('reviewer', sa.String(length=120), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_review_stamps_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_stamps'))
    )
    with op.batch_alter_table('review_stamps', schema=None) as batch_op:
        batch_op.create_index('ix_review_stamps_item', ['kind', 'item_id', 'reviewed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('review_stamps', schema=None) as batch_op:
        batch_op.drop_index('ix_review_stamps_item')
    op.drop_table('review_stamps')
