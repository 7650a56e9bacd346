"""circular: the data version, moment and annexes a draft was written from; serials per 机关代字

Revision ID: 0027_circular_snapshot
Revises: 0028_held_edit
Create Date: 2026-12-07 15:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0027_circular_snapshot'
down_revision = "0028_held_edit"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('circular', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data_version', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('written_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('annexes', sa.JSON(), nullable=True))
        # 发文字号 serials count per 机关代字 and year, not per region
        batch_op.drop_constraint('uq_circular_region_id_doc_year_doc_seq', type_='unique')
        batch_op.create_unique_constraint('uq_circular_doc_prefix_doc_year_doc_seq',
                                          ['doc_prefix', 'doc_year', 'doc_seq'])


def downgrade():
    with op.batch_alter_table('circular', schema=None) as batch_op:
        batch_op.drop_constraint('uq_circular_doc_prefix_doc_year_doc_seq', type_='unique')
        batch_op.create_unique_constraint('uq_circular_region_id_doc_year_doc_seq',
                                          ['region_id', 'doc_year', 'doc_seq'])
        batch_op.drop_column('annexes')
        batch_op.drop_column('written_at')
        batch_op.drop_column('data_version')
