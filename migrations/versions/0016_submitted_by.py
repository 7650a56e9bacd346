"""report.submitted_by_id: who submitted first, for the history of a submission without a revision row

Revision ID: 0016_submitted_by
Revises: 7c4e2b9d1a05
Create Date: 2026-11-29 22:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_submitted_by'
down_revision = '7c4e2b9d1a05'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('submitted_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_report_submitted_by_id_user'), 'user', ['submitted_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_report_submitted_by_id_user'), type_='foreignkey')
        batch_op.drop_column('submitted_by_id')
