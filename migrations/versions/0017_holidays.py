"""holidays: the moved due dates, kept for the filers' home page

Revision ID: 0017_holidays
Revises: 7c4e2b9d1a05
Create Date: 2026-11-29 22:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017_holidays'
down_revision = '7c4e2b9d1a05'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'due_change',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('period_id', sa.Integer(), nullable=False),
        sa.Column('old_due', sa.Date(), nullable=False),
        sa.Column('new_due', sa.Date(), nullable=False),
        sa.Column('changed_at', sa.DateTime(), nullable=False),
        sa.Column('changed_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['changed_by_id'], ['user.id'], name=op.f('fk_due_change_changed_by_id_user')),
        sa.ForeignKeyConstraint(['period_id'], ['period.id'], name=op.f('fk_due_change_period_id_period')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_due_change')),
    )
    with op.batch_alter_table('due_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_due_change_period_id'), ['period_id'], unique=False)


def downgrade():
    with op.batch_alter_table('due_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_due_change_period_id'))
    op.drop_table('due_change')
