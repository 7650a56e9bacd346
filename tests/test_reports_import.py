"""`flask reports import`: the information system's export, validated like the form, all or nothing."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from reporting.campaigns import create_campaign
from reporting.extensions import db
from reporting.hierarchy import descendants_at
from reporting.models import Region, Report, Revision

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
    assert count() == 1348 and count(Revision) == 1348
    stored = db.session.scalar(select(Report).where(Report.region_id == villages[5].id))
    assert (stored.status, stored.v3, stored.submitted_at) == ("submitted", 2005, dt.datetime(2022, 10, 6, 9, 0))
    assert stored.filer_name == "信息系统导入"


def test_one_bad_row_writes_nothing(runner, period, villages, tmp_path):
    path = table(tmp_path, villages, enrolled=lambda n: -5 if n == 700 else 2000)
    result = runner.invoke(args=["reports", "import", str(period.id), path, "--submit"])
    assert result.exit_code != 0
    assert "第702行" in result.output and "不能为负数" in result.output
    assert count() == 0


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
    assert refused.exit_code != 0 and "须说明原因" in refused.output
    fixed = runner.invoke(args=["reports", "import", str(period.id), lower, "--submit", "--reason", "信息系统重算"])
    assert fixed.exit_code == 0, fixed.output
    assert "更新1,348" in fixed.output
    assert count(Revision) == 2 * 1348
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
