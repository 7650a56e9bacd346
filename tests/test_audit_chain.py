"""The audit log as a hash chain: `flask audit verify`, tampering found, no fork, and GET /api/v1/audit."""
from __future__ import annotations

import csv
import datetime as dt
import io
import threading

from sqlalchemy import func, select, text

from app import create_app
from reporting import audit
from reporting.extensions import db
from reporting.models import AuditEntry, User

from .conftest import make_user


def write_entries(n: int, user: User | None = None, kind: str = "campaign.update") -> None:
    for i in range(n):
        audit.record(kind, user, target=f"设置 {i}", after={"n": i, "名称": "江门"})
    db.session.commit()


def verify(runner):
    result = runner.invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def test_verify_counts_the_entries_of_an_intact_chain(app, runner, jiangmen):
    admin = make_user("admin", "city_admin", "4407")
    write_entries(3, admin)
    write_entries(2)
    code, output = verify(runner)
    assert code == 0 and output.strip().splitlines()[-1] == "5" and "完整" in output


def test_a_row_changed_through_sql_is_named_by_its_id(app, runner, jiangmen):
    write_entries(5)
    ids = db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).all()
    # behind the application's back (the migration's trigger is what stops this on a real database)
    db.session.execute(text("UPDATE audit_entry SET target = '改过的' WHERE id = :id"), {"id": ids[2]})
    db.session.commit()
    code, output = verify(runner)
    assert code == 1 and str(ids[2]) in output and "不符" in output
    assert output.strip().splitlines()[-1] == str(ids[2])


def test_a_deleted_row_breaks_the_link_of_the_next(app, runner, jiangmen):
    write_entries(4)
    ids = db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).all()
    db.session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": ids[1]})
    db.session.commit()
    code, output = verify(runner)
    assert code == 1 and output.strip().splitlines()[-1] == str(ids[2])


def test_entries_chain_within_one_transaction_and_after_a_rollback(app, runner, jiangmen):
    audit.record("campaign.update", None, target="将回滚")
    db.session.rollback()  # the head read in that transaction is forgotten with it
    audit.record("campaign.update", None, target="一")
    audit.record("campaign.update", None, target="二")
    db.session.commit()
    assert verify(runner)[0] == 0
    first, second = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert first.digest == audit.entry_digest(audit.GENESIS, first)
    assert second.digest == audit.entry_digest(first.digest, second)


def test_two_writers_at_once_do_not_fork_the_chain(app, runner, jiangmen):
    """Two app instances (threads with connections of their own) append at the same moment."""
    config = {"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": str(db.engine.url.render_as_string(
        hide_password=False))}
    # made here, one after the other: what runs at once is the writing, not the making of apps
    apps = {name: create_app(config) for name in ("甲", "乙")}
    start = threading.Barrier(2)
    errors = []

    def writer(name: str):
        try:
            with apps[name].app_context():
                start.wait(30)
                for i in range(15):
                    audit.record("campaign.update", None, target=f"{name}{i}")
                    db.session.commit()
                db.session.remove()
                db.engine.dispose()
        except Exception as error:  # pragma: no cover - shown by the assertion below
            start.abort()  # the other writer stops waiting and fails too, rather than hang the run
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(name,), daemon=True) for name in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == [] and not any(thread.is_alive() for thread in threads), errors
    digests = db.session.scalars(select(AuditEntry.digest)).all()
    assert len(digests) == 30 and len(set(digests)) == 30
    code, output = verify(runner)
    assert code == 0 and output.strip().splitlines()[-1] == "30"


def test_the_application_offers_no_way_to_purge_the_log(app):
    commands = app.cli.commands["audit"].commands
    assert set(commands) == {"verify"}
    assert audit.RETENTION_DAYS >= 180


# --- GET /api/v1/audit and the page ---------------------------------------------------------------

def token(runner, username: str) -> dict:
    value = runner.invoke(args=["users", "token", username]).stdout.strip().splitlines()[-1]
    return {"Authorization": f"Bearer {value}"}


def test_the_api_pages_the_log_newest_first_with_filters(app, client, runner, jiangmen, frozen_now):
    frozen_now(dt.datetime(2026, 11, 2, 9, 0))
    xinhui = make_user("xinhui", "county_filer", "440705")
    write_entries(120)
    make_user("auditor", "audit_admin", "4407")
    headers = token(runner, "auditor")
    frozen_now(dt.datetime(2026, 11, 5, 9, 0))
    audit.record("report.save", xinhui, region=xinhui.region, target="报表 440705 第1期", after={"enrolled": 12})
    db.session.commit()

    first = client.get("/api/v1/audit", headers=headers).get_json()
    assert len(first["entries"]) == 100 and first["next_page"] == 2
    newest = first["entries"][0]
    assert newest["user"] == "xinhui" and newest["action"] == "report.save" and newest["region_code"] == "440705"
    assert newest["at"] == "2026-11-05T09:00:00" and "报表 440705 第1期" in newest["detail"]
    assert [e["id"] for e in first["entries"]] == sorted((e["id"] for e in first["entries"]), reverse=True)
    second = client.get("/api/v1/audit?page=2", headers=headers).get_json()
    assert second["next_page"] is None and len(second["entries"]) >= 21

    mine = client.get("/api/v1/audit?user=xinhui&action=report.save", headers=headers).get_json()
    assert [e["user"] for e in mine["entries"]] == ["xinhui"]
    days = client.get("/api/v1/audit?since=2026-11-05&until=2026-11-05&action=report.save",
                      headers=headers).get_json()
    assert len(days["entries"]) == 1
    before = client.get("/api/v1/audit?until=2026-11-04&action=report.save", headers=headers).get_json()
    assert before["entries"] == [] and before["next_page"] is None
    bad = client.get("/api/v1/audit?since=2026-13-40", headers=headers)
    assert bad.status_code == 422 and "日期" in bad.get_json()["errors"][0]["message"]
    assert client.get("/api/v1/audit?page=0", headers=headers).status_code == 422

    # the auditor's own reads are in the log too
    reads = db.session.scalar(select(func.count()).where(AuditEntry.kind == "audit.read",
                                                         AuditEntry.username == "auditor"))
    assert reads == 5  # the refused (422) ones read nothing


def test_only_the_auditor_reads_the_log_under_separation_of_duties(app, client, runner, jiangmen):
    make_user("admin", "city_admin", "4407")
    make_user("viewer", "viewer", "4407")
    make_user("auditor", "audit_admin", "4407")
    make_user("security", "security_admin", "4407")
    assert client.get("/api/v1/audit", headers=token(runner, "admin")).status_code == 200
    refused = client.get("/api/v1/audit", headers=token(runner, "viewer"))
    assert refused.status_code == 403 and "审计" in refused.get_json()["errors"][0]["message"]
    app.config["SEPARATION_OF_DUTIES"] = True
    assert client.get("/api/v1/audit", headers=token(runner, "admin")).status_code == 403
    assert client.get("/api/v1/audit", headers=token(runner, "security")).status_code == 403
    assert client.get("/api/v1/audit", headers=token(runner, "auditor")).status_code == 200


def test_the_auditor_exports_the_log_and_the_export_is_audited(app, client, auth, jiangmen):
    make_user("auditor", "audit_admin", "4407")
    xinhui = make_user("xinhui", "county_filer", "440705")
    audit.record("report.save", xinhui, region=xinhui.region, target="=HYPERLINK(\"http://x\")")
    db.session.commit()
    auth.login("auditor")
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "导出CSV" in page and "xinhui" in page
    answer = client.get("/admin/audit.csv?user=xinhui")
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:4] == ["编号", "时间", "用户", "类型"] and rows[1][2] == "xinhui" and rows[1][3] == "保存报表"
    assert rows[1][5].startswith("'=")  # a formula in a cell is kept as text
    assert len(rows) == 2
    kinds = db.session.scalars(select(AuditEntry.kind).where(AuditEntry.username == "auditor")).all()
    assert "audit.read" in kinds and "audit.export" in kinds
