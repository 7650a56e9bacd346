"""supervision_notice: a supervision item's messages to its unit's group robots, once each

Revision ID: 0029_supervision_notice
Revises: 0025_previous_campaign
Create Date: 2026-12-07 17:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0029_supervision_notice'
down_revision = "0025_previous_campaign"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'supervision_notice',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('occasion', sa.String(length=10), nullable=False),
        sa.Column('webhook_id', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.String(length=10), nullable=False),
        sa.Column('error', sa.String(length=100), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['item_id'], ['supervision_item.id'],
                                name=op.f('fk_supervision_notice_item_id_supervision_item')),
        sa.ForeignKeyConstraint(['webhook_id'], ['webhook.id'], ondelete='SET NULL',
                                name=op.f('fk_supervision_notice_webhook_id_webhook')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_notice')),
        sa.UniqueConstraint('item_id', 'occasion', 'webhook_id',
                            name=op.f('uq_supervision_notice_item_id_occasion_webhook_id')),
    )
    with op.batch_alter_table('supervision_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_notice_item_id'), ['item_id'], unique=False)


def downgrade():
    with op.batch_alter_table('supervision_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_notice_item_id'))
    op.drop_table('supervision_notice')
