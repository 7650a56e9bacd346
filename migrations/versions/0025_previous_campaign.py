"""campaign previous: last year's campaign, for the 上年同期 figures

Revision ID: 0025_previous_campaign
Revises: 0027_circular_snapshot
Create Date: 2026-12-07 15:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0025_previous_campaign'
down_revision = "0027_circular_snapshot"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_campaign_previous_id'), ['previous_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_campaign_previous_id_campaign'), 'campaign',
                                    ['previous_id'], ['id'])


def downgrade():
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_campaign_previous_id_campaign'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_campaign_previous_id'))
        batch_op.drop_column('previous_id')
