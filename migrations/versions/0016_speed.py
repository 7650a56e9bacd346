"""report.submitted_by_id (the history of a first submission without a revision row), and
progress_version (the version a cached progress answer is checked against)

Revision ID: 0016_speed
Revises: 0015_circular_title
Create Date: 2026-11-29 22:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016_speed'
down_revision = "0015_circular_title"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('submitted_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_report_submitted_by_id_user'), 'user', ['submitted_by_id'], ['id'])
    op.create_table(
        'progress_version',
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('region_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_progress_version_campaign_id_campaign')),
        sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_progress_version_region_id_region')),
        sa.PrimaryKeyConstraint('campaign_id', 'region_id', name=op.f('pk_progress_version')),
    )


def downgrade():
    op.drop_table('progress_version')
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_report_submitted_by_id_user'), type_='foreignkey')
        batch_op.drop_column('submitted_by_id')
