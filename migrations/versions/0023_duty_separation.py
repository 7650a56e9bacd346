"""三员分立 and 等保 controls: login lockout, forced password change, the audit log's hash chain

Revision ID: 0023_duty_separation
Revises: 0020_report_department_index
Create Date: 2026-12-07 16:00:00

"""
import datetime as dt
import json
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0023_duty_separation'
down_revision = "0020_report_department_index"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('password_changed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('failed_since', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(), nullable=True))
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest', sa.String(length=64), nullable=True))

    # PASSWORD_MAX_AGE_DAYS counts the passwords found here from today
    from reporting import clock
    op.get_bind().execute(sa.text('UPDATE "user" SET password_changed_at = :now'), {"now": clock.now()})
    _chain_existing_entries()


def _chain_existing_entries():
    """The entries written before the chain get their digests, in id order, with the one function
    that chains new ones; the append-only triggers step aside for this alone."""
    from reporting.audit import GENESIS, entry_digest
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, at, user_id, username, kind, region_id, target, before, after, ip "
                                "FROM audit_entry ORDER BY id")).mappings().all()
    if not rows:
        return
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        op.execute("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_update")
    previous = GENESIS
    for row in rows:
        entry = SimpleNamespace(**row)
        # SQLite hands back the text it stores; PostgreSQL the values
        if isinstance(entry.at, str):
            entry.at = dt.datetime.fromisoformat(entry.at)
        for name in ("before", "after"):
            if isinstance(getattr(entry, name), str):
                setattr(entry, name, json.loads(getattr(entry, name)))
        previous = entry_digest(previous, entry)
        bind.execute(sa.text("UPDATE audit_entry SET digest = :digest WHERE id = :id"),
                     {"digest": previous, "id": entry.id})
    if postgres:
        op.execute("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_append_only")
    else:
        op.execute("""CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry
            BEGIN SELECT RAISE(ABORT, '审计日志只能追加，不能修改或删除'); END""")


def downgrade():
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_column('digest')
    if op.get_bind().dialect.name != "postgresql":
        # SQLite rebuilt the table without its triggers: the log stays append-only
        for action in ("UPDATE", "DELETE"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_entry_no_{action.lower()}")
            op.execute(f"""CREATE TRIGGER audit_entry_no_{action.lower()} BEFORE {action} ON audit_entry
                BEGIN SELECT RAISE(ABORT, '审计日志只能追加，不能修改或删除'); END""")
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_since')
        batch_op.drop_column('failed_logins')
        batch_op.drop_column('password_changed_at')
        batch_op.drop_column('must_change_password')
