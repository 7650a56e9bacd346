"""tally: per-period sums of each parent unit's submitted reports

Revision ID: 7c4e2b9d1a05
Revises: 49709c84ab00
Create Date: 2026-11-27 17:40:00

"""
import datetime as dt

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '7c4e2b9d1a05'
down_revision = '49709c84ab00'
branch_labels = None
depends_on = None

SLOTS = range(1, 13)
ANCESTORS = ('province', 'city', 'county', 'township')


def upgrade():
    op.create_table(
        'tally',
        sa.Column('period_id', sa.Integer(), sa.ForeignKey('period.id'), nullable=False),
        sa.Column('region_id', sa.Integer(), sa.ForeignKey('region.id'), nullable=False),
        *(sa.Column(f'{level}_id', sa.Integer(), nullable=True) for level in ANCESTORS),
        sa.Column('reports', sa.Integer(), nullable=False),
        sa.Column('late', sa.Integer(), nullable=False),
        *(sa.Column(f's{slot}', sa.BigInteger(), nullable=False) for slot in SLOTS),
        sa.PrimaryKeyConstraint('period_id', 'region_id'),
    )
    # Sum the reports already submitted, one period at a time (each has its own deadline).
    connection = op.get_bind()
    sums = ", ".join(f"COALESCE(SUM(report.v{slot}), 0)" for slot in SLOTS)
    columns = ", ".join(f"s{slot}" for slot in SLOTS)
    ancestors = ", ".join(f"{level}_id" for level in ANCESTORS)
    parents = ", ".join(f"parent.{level}_id" for level in ANCESTORS)
    fill = sa.text(
        f"INSERT INTO tally (period_id, region_id, {ancestors}, reports, late, {columns}) "
        f"SELECT report.period_id, parent.id, {parents}, COUNT(*), "
        f"COUNT(CASE WHEN report.submitted_at >= :deadline THEN 1 END), {sums} "
        f"FROM report JOIN region AS unit ON unit.id = report.region_id "
        f"JOIN region AS parent ON parent.id = unit.parent_id "
        f"WHERE report.period_id = :period AND report.status = 'submitted' "
        f"GROUP BY report.period_id, parent.id, {parents}")
    for period_id, due in connection.execute(sa.text("SELECT id, due FROM period")).all():
        if isinstance(due, str):  # SQLite hands dates back as text
            due = dt.date.fromisoformat(due)
        deadline = dt.datetime.combine(due + dt.timedelta(days=1), dt.time())
        connection.execute(fill, {"period": period_id, "deadline": deadline})


def downgrade():
    op.drop_table('tally')
