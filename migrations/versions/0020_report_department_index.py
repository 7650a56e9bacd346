"""report: the one-report-per-department rule as a partial unique index (department rows only)

Revision ID: 0020_report_department_index
Revises: 0019_department_review
Create Date: 2026-11-30 02:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0020_report_department_index'
down_revision = "0019_department_review"
branch_labels = None
depends_on = None

ONLY_DEPARTMENTS = sa.text("department_id IS NOT NULL")


def upgrade():
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_constraint('uq_report_period_id_department_id', type_='unique')
    op.create_index('uq_report_period_department', 'report', ['period_id', 'department_id'], unique=True,
                    postgresql_where=ONLY_DEPARTMENTS, sqlite_where=ONLY_DEPARTMENTS)


def downgrade():
    op.drop_index('uq_report_period_department', table_name='report')
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_report_period_id_department_id', ['period_id', 'department_id'])
