"""review_stamps: a person checked an entry's text against its source; no bulk last_checked

The YAML's last_checked dates were never a person's check, so they go; knowledge_search gets the
content hash of each entry, so the chat can match review stamps with one query per answer.

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
    # Content tables are rebuilt by the next `loket knowledge load`, which fills content_hash.
    with op.batch_alter_table('knowledge_search', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_hash', sa.String(length=64), server_default='',
                                      nullable=False))
    for table in ('knowledge_search', 'regelingen', 'loketten'):
        _drop_column(table, 'last_checked')


def _drop_column(table: str, column: str) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # Native since SQLite 3.35; batch mode would copy the table and needs reflection.
        op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')
    else:
        op.drop_column(table, column)


def downgrade() -> None:
    # The old dates are gone; nullable columns, a reload of old content fills them.
    with op.batch_alter_table('loketten', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_checked', sa.Date(), nullable=True))
    with op.batch_alter_table('regelingen', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_checked', sa.Date(), nullable=True))
    with op.batch_alter_table('knowledge_search', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_checked', sa.Date(), nullable=True))
    _drop_column('knowledge_search', 'content_hash')
    with op.batch_alter_table('review_stamps', schema=None) as batch_op:
        batch_op.drop_index('ix_review_stamps_item')
    op.drop_table('review_stamps')
