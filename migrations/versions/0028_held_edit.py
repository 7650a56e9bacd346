"""held_edit: what a grid row's filer typed that could not be saved yet, with its errors

Revision ID: 0028_held_edit
Revises: 0024_supervision
Create Date: 2026-12-07 16:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0028_held_edit'
down_revision = "0024_supervision"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'held_edit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('period_id', sa.Integer(), nullable=False),
        sa.Column('region_id', sa.Integer(), nullable=False),
        sa.Column('typed', sa.JSON(), nullable=False),
        sa.Column('errors', sa.JSON(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['period_id'], ['period.id'], name=op.f('fk_held_edit_period_id_period')),
        sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_held_edit_region_id_region')),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_held_edit_user_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_held_edit')),
        sa.UniqueConstraint('period_id', 'region_id', name=op.f('uq_held_edit_period_id_region_id')),
    )
    with op.batch_alter_table('held_edit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_held_edit_region_id'), ['region_id'], unique=False)


def downgrade():
    with op.batch_alter_table('held_edit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_held_edit_region_id'))
    op.drop_table('held_edit')
