"""department review: 催报 messages to departments (条线) beside those to units of the tree

Revision ID: 0019_department_review
Revises: 0016_speed
Create Date: 2026-11-30 00:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019_department_review'
down_revision = "0016_speed"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reminder_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('department_id', sa.Integer(), nullable=True))
        batch_op.alter_column('region_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_reminder_message_department_id_department'), 'department',
                                    ['department_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_reminder_message_department_id'), ['department_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_reminder_message_auto_period_id_department_id'),
                                          ['auto_period_id', 'department_id'])
        batch_op.create_check_constraint('one_recipient', '(region_id IS NULL) <> (department_id IS NULL)')


def downgrade():
    op.execute("DELETE FROM delivery WHERE message_id IN "
               "(SELECT id FROM reminder_message WHERE department_id IS NOT NULL)")
    op.execute("DELETE FROM reminder_message WHERE department_id IS NOT NULL")
    with op.batch_alter_table('reminder_message', schema=None) as batch_op:
        batch_op.drop_constraint('one_recipient', type_='check')
        batch_op.drop_constraint(batch_op.f('uq_reminder_message_auto_period_id_department_id'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_reminder_message_department_id'))
        batch_op.drop_constraint(batch_op.f('fk_reminder_message_department_id_department'), type_='foreignkey')
        batch_op.alter_column('region_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('department_id')
