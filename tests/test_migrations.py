"""The migrations bring an empty database to the same schema as the models."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app import create_app
from reporting.extensions import db

from .conftest import PG_URL


def test_upgrade_empty_database_to_head(tmp_path):
    if PG_URL:
        url = {"DATABASE_URL": PG_URL}
    else:
        url = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}"}
    app = create_app({"TESTING": True, "SECRET_KEY": "test", **url})
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"region", "campaign", "period", "report", "revision", "user", "api_token"} <= tables
        with db.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
        assert differences == [], "models and migrations disagree"
        # the audit log is append-only in the database itself
        db.session.execute(text("INSERT INTO audit_entry (at, username, kind, target, ip) "
                                "VALUES (CURRENT_TIMESTAMP, 'x', 'login.failure', '', '')"))
        db.session.commit()
        for statement in ("UPDATE audit_entry SET username = 'y'", "DELETE FROM audit_entry"):
            with pytest.raises(Exception, match="只能追加"):
                db.session.execute(text(statement))
            db.session.rollback()
        assert db.session.execute(text("SELECT username FROM audit_entry")).scalar() == "x"
        db.session.rollback()  # end the read, or the downgrade below waits on its lock
        downgrade(revision="base")
        assert "report" not in inspect(db.engine).get_table_names()
        db.create_all()  # leave the schema as the other tests expect it
        db.session.remove()
        db.engine.dispose()


def test_the_entries_written_before_the_chain_are_chained_by_its_migration(tmp_path):
    from reporting import audit
    if PG_URL:
        url = {"DATABASE_URL": PG_URL}
    else:
        url = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.db'}"}
    app = create_app({"TESTING": True, "SECRET_KEY": "test", **url})
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        upgrade(revision="0020_report_department_index")
        for n, kind in enumerate(("login.failure", "user.create")):
            db.session.execute(text("INSERT INTO audit_entry (at, username, kind, target, after, ip) "
                                    "VALUES (:at, 'x', :kind, '用户 x', :after, '')"),
                               {"at": f"2026-11-0{n + 1} 09:00:00", "kind": kind, "after": '{"role": "viewer"}'})
        db.session.commit()
        upgrade()
        assert audit.verify() == (2, None)
        # the append-only triggers are back after the migration stepped them aside
        with pytest.raises(Exception, match="只能追加"):
            db.session.execute(text("UPDATE audit_entry SET username = 'y'"))
        db.session.rollback()
        downgrade(revision="base")
        db.create_all()
        db.session.remove()
        db.engine.dispose()
