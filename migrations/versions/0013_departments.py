"""departments: 条线 that file some indicators of a campaign beside the units of the tree

Revision ID: 0013_departments
Revises: 0012_review
Create Date: 2026-11-29 22:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013_departments'
down_revision = "0012_review"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'department',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('region_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('indicator_keys', sa.JSON(), nullable=False),
        sa.Column('measure', sa.String(length=40), nullable=False),
        sa.Column('task', sa.Integer(), nullable=True),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_department_campaign_id_campaign')),
        sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_department_region_id_region')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_department')),
        sa.UniqueConstraint('campaign_id', 'name', name=op.f('uq_department_campaign_id_name')),
    )
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_department_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_department_region_id'), ['region_id'], unique=False)

    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.add_column(sa.Column('departments_only', sa.Boolean(), server_default='0', nullable=False))

    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('department_id', sa.Integer(), nullable=True))
        batch_op.alter_column('region_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_report_department_id_department'), 'department',
                                    ['department_id'], ['id'])
        batch_op.create_unique_constraint(batch_op.f('uq_report_period_id_department_id'),
                                          ['period_id', 'department_id'])
        batch_op.create_check_constraint('one_filer', '(region_id IS NULL) <> (department_id IS NULL)')

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('department_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_user_department_id_department'), 'department',
                                    ['department_id'], ['id'])


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_user_department_id_department'), type_='foreignkey')
        batch_op.drop_column('department_id')

    op.execute("DELETE FROM revision WHERE report_id IN (SELECT id FROM report WHERE department_id IS NOT NULL)")
    op.execute("DELETE FROM report WHERE department_id IS NOT NULL")
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_constraint('one_filer', type_='check')
        batch_op.drop_constraint(batch_op.f('uq_report_period_id_department_id'), type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_report_department_id_department'), type_='foreignkey')
        batch_op.alter_column('region_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('department_id')

    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.drop_column('departments_only')

    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_department_region_id'))
        batch_op.drop_index(batch_op.f('ix_department_campaign_id'))

    op.drop_table('department')
