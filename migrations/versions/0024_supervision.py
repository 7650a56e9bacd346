"""supervision: 督办事项 (约谈 and 督办单), their 整改报告 and its attachments

Revision ID: 0024_supervision
Revises: 0026_system_figures
Create Date: 2026-12-07 16:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0024_supervision'
down_revision = "0026_system_figures"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'supervision_item',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('period_id', sa.Integer(), nullable=False),
        sa.Column('region_id', sa.Integer(), nullable=True),
        sa.Column('department_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('issuer_region_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('matter', sa.Text(), nullable=False),
        sa.Column('requirement', sa.Text(), nullable=False),
        sa.Column('due', sa.Date(), nullable=False),
        sa.Column('interview_date', sa.Date(), nullable=True),
        sa.Column('interview_place', sa.String(length=100), nullable=False),
        sa.Column('interviewee', sa.String(length=100), nullable=False),
        sa.Column('interviewer', sa.String(length=100), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('then_completion', sa.Float(), nullable=True),
        sa.Column('then_rank', sa.Integer(), nullable=True),
        sa.Column('reopen_reason', sa.Text(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('closed_by_id', sa.Integer(), nullable=True),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint('(region_id IS NULL) <> (department_id IS NULL)',
                           name=op.f('ck_supervision_item_one_subject')),
        sa.ForeignKeyConstraint(['closed_by_id'], ['user.id'], name=op.f('fk_supervision_item_closed_by_id_user')),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_supervision_item_created_by_id_user')),
        sa.ForeignKeyConstraint(['department_id'], ['department.id'],
                                name=op.f('fk_supervision_item_department_id_department')),
        sa.ForeignKeyConstraint(['issuer_region_id'], ['region.id'],
                                name=op.f('fk_supervision_item_issuer_region_id_region')),
        sa.ForeignKeyConstraint(['period_id'], ['period.id'], name=op.f('fk_supervision_item_period_id_period')),
        sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_supervision_item_region_id_region')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_item')),
        sa.UniqueConstraint('issuer_region_id', 'year', 'seq',
                            name=op.f('uq_supervision_item_issuer_region_id_year_seq')),
    )
    with op.batch_alter_table('supervision_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_item_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_item_period_id'), ['period_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_item_region_id'), ['region_id'], unique=False)

    op.create_table(
        'supervision_response',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('measures', sa.Text(), nullable=False),
        sa.Column('promise', sa.String(length=200), nullable=False),
        sa.Column('by_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['by_id'], ['user.id'], name=op.f('fk_supervision_response_by_id_user')),
        sa.ForeignKeyConstraint(['item_id'], ['supervision_item.id'],
                                name=op.f('fk_supervision_response_item_id_supervision_item')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_response')),
    )
    with op.batch_alter_table('supervision_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_response_item_id'), ['item_id'], unique=False)

    op.create_table(
        'supervision_attachment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('response_id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('content_type', sa.String(length=40), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('stored_as', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['response_id'], ['supervision_response.id'],
                                name=op.f('fk_supervision_attachment_response_id_supervision_response')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_attachment')),
        sa.UniqueConstraint('stored_as', name=op.f('uq_supervision_attachment_stored_as')),
    )
    with op.batch_alter_table('supervision_attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_attachment_response_id'), ['response_id'], unique=False)


def downgrade():
    with op.batch_alter_table('supervision_attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_attachment_response_id'))
    op.drop_table('supervision_attachment')
    with op.batch_alter_table('supervision_response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_response_item_id'))
    op.drop_table('supervision_response')
    with op.batch_alter_table('supervision_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_item_region_id'))
        batch_op.drop_index(batch_op.f('ix_supervision_item_period_id'))
        batch_op.drop_index(batch_op.f('ix_supervision_item_department_id'))
    op.drop_table('supervision_item')
