"""`flask reports import`: the information system's export, validated like the form, all or nothing;
recorded by one audit entry with the file's digest and the counts, with no revision row for a first
submission, and a history page that shows those submissions exactly as their rows did."""
import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from reporting import tables
from reporting.campaigns.campaigns import create_campaign
from reporting.extensions import db
from reporting.filing import filing
from reporting.filing.filing import import_reports
from reporting.models import AuditEntry, Region, Report, Revision, User
from reporting.progress.rollup import region_totals
from reporting.regions.hierarchy import descendants_at, region_by_code

from .conftest import make_user

HEADER = "单位代码,population,should_enroll,居民医保已参保人数,hardship_should,hardship_enrolled,students_enrolled,newborns_enrolled,college_enrolled"


@pytest.fixture
def period(jiangmen, frozen_now):
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), extend_to=dt.date(2023, 2, 28),
                                  first_due=dt.date(2022, 10, 1))
    db.session.commit()
    frozen_now(dt.datetime(2022, 10, 6, 9, 0))
    return campaign.periods[0]


@pytest.fixture
def villages(jiangmen):
    return list(db.session.scalars(descendants_at(jiangmen, "village").order_by(Region.code)))


def table(tmp_path, villages, enrolled=lambda n: 2000 + n, extra=""):
    lines = [HEADER] + [f"{v.code},3000,2600,{enrolled(n)},80,78,400,20,0" for n, v in enumerate(villages)]
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return str(path)


def count(model=Report):
    return db.session.scalar(select(func.count(model.id)))


def test_whole_city_imports_and_submits(runner, period, villages, tmp_path):
    result = runner.invoke(args=["reports", "import", str(period.id), table(tmp_path, villages), "--submit"])
    assert result.exit_code == 0, result.output
    assert "已导入1,348行" in result.output and "已提交" in result.output
    assert count() == 1348 and count(Revision) == 0  # a first submission is kept by the report itself
    stored = db.session.scalar(select(Report).where(Report.region_id == villages[5].id))
    assert (stored.status, stored.v3, stored.submitted_at) == ("submitted", 2005, dt.datetime(2022, 10, 6, 9, 0))
    assert stored.filer_name == "信息系统导入"


def test_one_bad_row_writes_nothing(runner, period, villages, tmp_path):
    path = table(tmp_path, villages, enrolled=lambda n: -5 if n == 700 else 2000)
    result = runner.invoke(args=["reports", "import", str(period.id), path, "--submit"])
    assert result.exit_code != 0
    assert "第702行" in result.output and "不能为负数" in result.output
    assert count() == 0


def test_a_province_sized_import_in_two_parts_writes_what_one_pass_writes(period, villages, jiangmen,
                                                                         monkeypatch):
    """On PostgreSQL a large import writes its first third while it validates the rest (SQLite: one pass)."""
    monkeypatch.setattr(filing, "SPLIT_FROM", 100)  # the city's 1,348 villages: 449, then 899
    rows = [(n + 2, v.code, {"population": "3000", "should_enroll": "2600", "enrolled": str(2000 + n),
                             "hardship_should": "80", "hardship_enrolled": "78", "students_enrolled": "400",
                             "newborns_enrolled": "20", "college_enrolled": "0"}, {}) for n, v in enumerate(villages)]
    outcome = import_reports(period, rows, submit=True, source={"sha256": "0" * 64})
    db.session.commit()
    assert (outcome.loaded, outcome.inserted, outcome.submitted) == (1348, 1348, 1348)
    assert count() == 1348 and count(Revision) == 0
    # every unit counted once in the tallies, from either part
    totals = region_totals(period, jiangmen)
    assert (totals.reports, totals.get("enrolled")) == (1348, sum(2000 + n for n in range(1348)))
    (entry,) = imports()
    assert (entry.after["rows"], entry.after["inserted"]) == (1348, 1348)


def test_an_error_in_the_later_part_undoes_the_part_written(period, villages, jiangmen, monkeypatch):
    monkeypatch.setattr(filing, "SPLIT_FROM", 100)
    rows = [(n + 2, v.code, {"enrolled": "-5" if n == 1300 else "2000"}, {}) for n, v in enumerate(villages)]
    with pytest.raises(tables.ImportRejected) as rejected:
        import_reports(period, rows, submit=False, source={"sha256": "0" * 64})
    assert [(e.line, e.message) for e in rejected.value.errors] == [(1302, "居民医保已参保人数不能为负数")]
    # in the same transaction, with no rollback of its own: nothing of the first part is left
    assert count() == 0 and imports() == []
    assert region_totals(period, jiangmen, statuses=("draft", "submitted")).reports == 0


def test_unknown_and_duplicate_codes_are_named(runner, period, villages, tmp_path):
    path = table(tmp_path, villages[:3], extra=f"440703999999,1,1,1,0,0,0,0,0\n{villages[0].code},1,1,1,0,0,0,0,0\n")
    result = runner.invoke(args=["reports", "import", str(period.id), path])
    assert result.exit_code != 0 and "440703999999" in result.output
    assert "与第2行重复" in result.output
    assert count() == 0


def test_reimport_corrects_with_reason_and_warns_on_falling_counts(runner, period, villages, tmp_path):
    runner.invoke(args=["reports", "import", str(period.id), table(tmp_path, villages), "--submit"])
    lower = table(tmp_path, villages, enrolled=lambda n: 1000)
    refused = runner.invoke(args=["reports", "import", str(period.id), lower, "--submit"])
    assert refused.exit_code != 0 and "修改已提交的报表须填写修改原因" in refused.output
    fixed = runner.invoke(args=["reports", "import", str(period.id), lower, "--submit", "--reason", "信息系统重算"])
    assert fixed.exit_code == 0, fixed.output
    assert "更新1,348" in fixed.output
    assert count(Revision) == 1348  # one per correction
    report = db.session.scalar(select(Report).where(Report.region_id == villages[0].id))
    assert report.revision == 2 and report.v3 == 1000


def test_next_period_warns_on_falling_count(runner, period, villages, tmp_path, frozen_now):
    runner.invoke(args=["reports", "import", str(period.id), table(tmp_path, villages[:5]), "--submit"])
    second = period.campaign.periods[1]
    frozen_now(dt.datetime(2022, 10, 16, 9, 0))
    result = runner.invoke(args=["reports", "import", str(second.id),
                                 table(tmp_path, villages[:5], enrolled=lambda n: 1990 if n == 0 else 2100 + n),
                                 "--submit"])
    assert result.exit_code == 0, result.output
    assert "比上期减少10人" in result.output


def test_not_a_table_is_refused(runner, period, tmp_path):
    bogus = tmp_path / "x.xlsx"
    bogus.write_bytes(b"this is not a workbook")
    result = runner.invoke(args=["reports", "import", str(period.id), str(bogus)])
    assert result.exit_code != 0 and "xlsx" in result.output
    missing = runner.invoke(args=["reports", "import", "999", str(bogus)])
    assert missing.exit_code != 0 and "999" in missing.output

# --- the import's record: one audit entry, and a history without first-submission rows ----------

HX = {"HX-Request": "true"}
FULL = {"population": 3000, "should_enroll": 2600, "enrolled": 2000, "hardship_should": 80,
        "hardship_enrolled": 80, "students_enrolled": 400, "newborns_enrolled": 20, "college_enrolled": 0}
FOOTER = {"filer_name": "黄丽华", "filer_phone": "13802216103", "filer_head": "张局长"}


def villages_of(code: str) -> list[Region]:
    return list(db.session.scalars(descendants_at(region_by_code(code), "village").order_by(Region.code)))


def imports() -> list[AuditEntry]:
    return db.session.scalars(select(AuditEntry).where(AuditEntry.kind == "reports.import")
                              .order_by(AuditEntry.id)).all()


def test_cli_import_is_audited_once_with_the_files_digest_and_counts(runner, period, villages, tmp_path,
                                                                      frozen_now):
    path = Path(table(tmp_path, villages))
    result = runner.invoke(args=["reports", "import", str(period.id), str(path), "--submit"])
    assert result.exit_code == 0, result.output
    warned = int(re.search(r"警告([\d,]+)条", result.output).group(1).replace(",", ""))
    (entry,) = imports()
    assert entry.user_id is None and entry.before is None
    assert entry.after == {"period_id": period.id, "period": period.label, "file": "export.csv",
                           "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "submit": True,
                           "rows": 1348, "inserted": 1348, "updated": 0, "corrected": 0, "unchanged": 0,
                           "warnings": warned}
    assert len(json.dumps(entry.after)) < 400  # not every unit's values

    frozen_now(dt.datetime(2022, 10, 6, 10, 0))
    path = Path(table(tmp_path, villages, enrolled=lambda n: 2000 + n + (5 if n < 10 else 0)))
    fixed = runner.invoke(args=["reports", "import", str(period.id), str(path), "--submit", "--reason", "补录"])
    assert fixed.exit_code == 0, fixed.output
    entry = imports()[-1]
    assert {k: entry.after[k] for k in ("rows", "inserted", "updated", "corrected", "unchanged", "reason")} == \
        {"rows": 1348, "inserted": 0, "updated": 10, "corrected": 10, "unchanged": 1338, "reason": "补录"}
    assert entry.after["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert db.session.scalar(select(func.count(Revision.id))) == 10  # the corrections' rows, nothing more


def test_grid_submit_is_audited_with_the_users_name_and_a_digest_of_its_rows(client, auth, period):
    make_user("xinhui", "county_filer", "440705")
    auth.login("xinhui")
    units = villages_of("440705")
    import_reports(period, [(n, u.code, FULL, {}) for n, u in enumerate(units)], submit=False)
    db.session.commit()
    answer = client.post(f"/filing/{period.id}/440705/submit", data=FOOTER, headers=HX)
    assert answer.status_code == 204
    entry = imports()[-1]
    assert entry.username == "xinhui" and "并提交" in entry.target
    assert len(entry.after["sha256"]) == 64 and "file" not in entry.after
    assert (entry.after["rows"], entry.after["updated"], entry.after["corrected"]) == (len(units), len(units), 0)


def test_history_of_first_submissions_without_rows_is_the_page_their_rows_gave(client, auth, period, frozen_now):
    make_user("xinhui", "county_filer", "440705")
    auth.login("xinhui")
    units = villages_of("440705")
    import_reports(period, [(n, u.code, {**FULL, "enrolled": 2000 + n}, {}) for n, u in enumerate(units)],
                   submit=False)
    db.session.commit()
    assert client.post(f"/filing/{period.id}/440705/submit", data=FOOTER, headers=HX).status_code == 204
    frozen_now(dt.datetime(2022, 10, 6, 9, 20))
    corrected = units[3]
    answer = client.post(f"/filing/{period.id}/440705/units/{corrected.code}",
                         data={"enrolled": "2100", "revision": "2", "reason": "补录"}, headers=HX)
    assert answer.status_code == 200
    assert db.session.scalar(select(func.count(Revision.id))) == 1  # the correction only

    url = f"/filing/{period.id}/440705/history"
    client.get(f"/filing/{period.id}/440705")  # shows the 提交's flash message, once
    derived = client.get(url).get_data(as_text=True)
    assert derived.count("首次提交") == len(units) and derived.count(">修改<") == 1
    assert "<del>2,003</del> → <ins>2,100</ins>" in derived
    assert "<del>空</del> → <ins>2,003</ins>" in derived  # the first submission's values, not the corrected ones

    # the rows a first submission used to get, written as before: the page must not change
    user_id = db.session.scalar(select(User.id).where(User.username == "xinhui"))
    reports = db.session.scalars(select(Report).where(Report.period_id == period.id).order_by(Report.id)).all()
    db.session.execute(insert(Revision), [
        {"report_id": r.id, "number": 2, "kind": "submit", "old_values": {},
         "new_values": {**FULL, "enrolled": 2000 + units.index(r.region)}, "reason": "", "user_id": user_id,
         "created_at": r.submitted_at} for r in reports])
    db.session.commit()
    assert client.get(url).get_data(as_text=True) == derived
