"""basis: each tally also sums its submissions' change over the unit's previous report (口径)

Revision ID: 0011_basis
Revises: 0018_sessions
Create Date: 2026-11-29 23:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011_basis'
down_revision = '0018_sessions'
branch_labels = None
depends_on = None

SLOTS = range(1, 13)


def upgrade():
    with op.batch_alter_table('tally', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_reports', sa.Integer(), server_default='0', nullable=False))
        for slot in SLOTS:
            batch_op.add_column(sa.Column(f'b{slot}', sa.BigInteger(), server_default='0', nullable=False))
    # Fill them from the reports already submitted: each report beside the unit's one before it.
    connection = op.get_bind()
    lags = ", ".join(f"LAG(report.v{slot}) OVER w AS p{slot}" for slot in SLOTS)
    values = ", ".join(f"report.v{slot}" for slot in SLOTS)
    changes = ", ".join(f"SUM(COALESCE(r.v{slot}, 0) - COALESCE(r.p{slot}, 0))" for slot in SLOTS)
    rows = connection.execute(sa.text(
        f"SELECT r.period_id, unit.parent_id, COUNT(CASE WHEN r.prior_seq IS NULL THEN 1 END), {changes} "
        f"FROM (SELECT report.region_id, report.period_id, {values}, "
        f"LAG(period.seq) OVER w AS prior_seq, {lags} "
        f"FROM report JOIN period ON period.id = report.period_id WHERE report.status = 'submitted' "
        f"WINDOW w AS (PARTITION BY period.campaign_id, report.region_id ORDER BY period.seq)) AS r "
        f"JOIN region AS unit ON unit.id = r.region_id "
        f"WHERE unit.parent_id IS NOT NULL GROUP BY r.period_id, unit.parent_id")).all()
    assignments = ", ".join(f"b{slot} = :b{slot}" for slot in SLOTS)
    update = sa.text(f"UPDATE tally SET first_reports = :first, {assignments} "
                     f"WHERE period_id = :period AND region_id = :region")
    if rows:
        connection.execute(update, [{"period": row[0], "region": row[1], "first": row[2],
                                     **{f"b{slot}": int(row[2 + slot] or 0) for slot in SLOTS}} for row in rows])


def downgrade():
    with op.batch_alter_table('tally', schema=None) as batch_op:
        for slot in reversed(SLOTS):
            batch_op.drop_column(f'b{slot}')
        batch_op.drop_column('first_reports')
