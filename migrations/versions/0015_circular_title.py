"""circular title: a campaign's choice to print the circular's 期号 line

Revision ID: 0015_circular_title
Revises: 0013_departments
Create Date: 2026-11-29 22:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015_circular_title'
down_revision = "0013_departments"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN: SQLite's batch mode would copy the table, which rows of period refer to.
    op.add_column('campaign', sa.Column('circular_issue_line', sa.Boolean(), server_default=sa.false(),
                                        nullable=False))


def downgrade():
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.drop_column('circular_issue_line')
