"""system figures: the 医保信息系统's counts beside the reports; a campaign's basis and gap threshold

Revision ID: 0026_system_figures
Revises: 0023_duty_separation
Create Date: 2026-12-07 16:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0026_system_figures'
down_revision = "0023_duty_separation"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'system_figure',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('period_id', sa.Integer(), nullable=False),
        sa.Column('region_id', sa.Integer(), nullable=False),
        sa.Column('parent_id', sa.Integer(), nullable=True),
        sa.Column('values', sa.JSON(), nullable=False),
        sa.Column('at', sa.Date(), nullable=True),
        sa.Column('own', sa.Boolean(), nullable=False),
        sa.Column('imported_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['period_id'], ['period.id'], name=op.f('fk_system_figure_period_id_period')),
        sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_system_figure_region_id_region')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_system_figure')),
        sa.UniqueConstraint('period_id', 'region_id', name=op.f('uq_system_figure_period_id_region_id')),
    )
    with op.batch_alter_table('system_figure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_system_figure_period_id'), ['period_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_system_figure_region_id'), ['region_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_system_figure_parent_id'), ['parent_id'], unique=False)
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('basis', sa.String(length=10), server_default='reported', nullable=False))
        batch_op.add_column(sa.Column('system_share', sa.Numeric(precision=5, scale=4), server_default='0.02',
                                      nullable=False))
        batch_op.add_column(sa.Column('system_people', sa.Integer(), server_default='50', nullable=False))


def downgrade():
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.drop_column('system_people')
        batch_op.drop_column('system_share')
        batch_op.drop_column('basis')
    with op.batch_alter_table('system_figure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_system_figure_parent_id'))
        batch_op.drop_index(batch_op.f('ix_system_figure_region_id'))
        batch_op.drop_index(batch_op.f('ix_system_figure_period_id'))
    op.drop_table('system_figure')
