"""Holiday notices read line by line, entered days, and the due dates that follow them."""
import datetime as dt

import chinese_calendar
import pytest

from reporting.calendar.holidays import parse_notice, parse_run
from reporting.calendar.schedule import Calendar

D = dt.date

#: 国务院办公厅关于2025年部分节假日安排的通知, the lines as published
NOTICE_2025 = """\
一、元旦：1月1日（周三）放假1天，不调休。
二、春节：1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天。1月26日（周日）、2月8日（周六）上班。
三、清明节：4月4日（周五）至6日（周日）放假，共3天。
四、劳动节：5月1日（周四）至5日（周一）放假调休，共5天。4月27日（周日）上班。
五、端午节：5月31日（周六）至6月2日（周一）放假，共3天。
六、国庆节、中秋节：10月1日（周三）至8日（周三）放假调休，共8天。9月28日（周日）、10月11日（周六）上班。
"""

#: 国务院办公厅关于2026年部分节假日安排的通知
NOTICE_2026 = """\
一、元旦：1月1日（周四）至3日（周六）放假调休，共3天。1月4日（周日）上班。
二、春节：2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，共9天。2月14日（周六）、2月28日（周六）上班。
三、清明节：4月4日（周六）至6日（周一）放假，共3天。
四、劳动节：5月1日（周五）至5日（周二）放假调休，共5天。5月9日（周六）上班。
五、端午节：6月19日（周五）至21日（周日）放假，共3天。
六、中秋节：9月25日（周五）至27日（周日）放假，共3天。
七、国庆节：10月1日（周四）至7日（周三）放假调休，共7天。9月20日（周日）、10月10日（周六）上班。
"""


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def test_each_line_of_the_2025_notice():
    notice = parse_notice(NOTICE_2025, 2025)
    assert notice.problems == []
    got = {line.name: (line.off, line.workdays) for line in notice.lines}
    assert got == {
        "元旦": ([D(2025, 1, 1)], []),
        "春节": (days(D(2025, 1, 28), D(2025, 2, 4)), [D(2025, 1, 26), D(2025, 2, 8)]),
        "清明节": (days(D(2025, 4, 4), D(2025, 4, 6)), []),
        "劳动节": (days(D(2025, 5, 1), D(2025, 5, 5)), [D(2025, 4, 27)]),
        "端午节": (days(D(2025, 5, 31), D(2025, 6, 2)), []),  # runs into June
        "国庆节、中秋节": (days(D(2025, 10, 1), D(2025, 10, 8)), [D(2025, 9, 28), D(2025, 10, 11)]),
    }


def test_each_line_of_the_2026_notice():
    notice = parse_notice(NOTICE_2026, 2026)
    assert notice.problems == []
    got = {line.name: (line.off, line.workdays) for line in notice.lines}
    assert got["元旦"] == (days(D(2026, 1, 1), D(2026, 1, 3)), [D(2026, 1, 4)])
    assert got["春节"] == (days(D(2026, 2, 15), D(2026, 2, 23)), [D(2026, 2, 14), D(2026, 2, 28)])
    assert got["清明节"] == (days(D(2026, 4, 4), D(2026, 4, 6)), [])
    assert got["劳动节"] == (days(D(2026, 5, 1), D(2026, 5, 5)), [D(2026, 5, 9)])
    assert got["端午节"] == (days(D(2026, 6, 19), D(2026, 6, 21)), [])
    assert got["中秋节"] == (days(D(2026, 9, 25), D(2026, 9, 27)), [])
    assert got["国庆节"] == (days(D(2026, 10, 1), D(2026, 10, 7)), [D(2026, 9, 20), D(2026, 10, 10)])


@pytest.mark.parametrize("notice, year", [(NOTICE_2025, 2025), (NOTICE_2026, 2026)])
def test_a_notice_on_weekends_gives_the_official_calendar_for_every_day(notice, year):
    """The notice alone, on top of "weekends off", is the whole year as chinesecalendar has it."""
    entered = Calendar(parse_notice(notice, year).days())
    for day in days(D(year, 1, 1), D(year, 12, 31)):
        assert entered.is_workday(day) == chinese_calendar.is_workday(day), day


def test_the_phrasings_of_older_notices_and_of_2027():
    brief = parse_notice("春节：1月28日（农历除夕）至2月4日（农历正月初七）放假调休，共8天。"
                         "1月26日（星期日）、2月8日（星期六）上班。", 2025)
    assert brief.problems == []
    assert brief.lines[0].off == days(D(2025, 1, 28), D(2025, 2, 4))
    spring_2027 = parse_notice("春节：2月6日至12日放假调休，共7天。2月14日（星期日）上班。", 2027)
    assert spring_2027.problems == []
    assert spring_2027.days() == {**{d: False for d in days(D(2027, 2, 6), D(2027, 2, 12))},
                                  D(2027, 2, 14): True}
    # an explicit year, across the new year, with a half-width colon
    new_year = parse_notice("元旦:2022年12月31日至2023年1月2日放假调休,共3天。", 2023)
    assert new_year.problems == [] and new_year.lines[0].off == days(D(2022, 12, 31), D(2023, 1, 2))
    across = parse_notice("元旦：12月30日至1月1日放假调休，共3天。", 2018)
    assert across.lines[0].off == days(D(2018, 12, 30), D(2019, 1, 1))


def test_the_whole_notice_pasted_reads_its_holidays_only():
    whole = ("国务院办公厅关于2026年部分节假日安排的通知\n国办发明电〔2025〕7号\n"
             "各省、自治区、直辖市人民政府，国务院各部委、各直属机构：\n"
             "经国务院批准，现将2026年元旦、春节、清明节、劳动节、端午节、中秋节和国庆节放假调休日期的具体安排通知如下。\n"
             + NOTICE_2026 +
             "节假日期间，各地区、各部门要妥善安排好值班和安全、保卫等工作，遇有重大突发事件，要按规定及时报告并妥善处置，"
             "确保人民群众祥和平安度过节日假期。\n国务院办公厅\n2025年11月4日\n")
    notice = parse_notice(whole, 2026)
    assert notice.problems == []
    assert [line.name for line in notice.lines] == ["元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"]
    assert notice.days() == parse_notice(NOTICE_2026, 2026).days()


def test_a_working_day_after_a_comma():
    for text in ("春节：2月6日至12日放假调休，共7天，2月14日（星期日）上班。",
                 "春节：2月6日至12日放假调休，共7天。2月14日（星期日）补班。"):
        notice = parse_notice(text, 2027)
        assert notice.problems == [] and notice.lines[0].workdays == [D(2027, 2, 14)]
        assert notice.lines[0].off == days(D(2027, 2, 6), D(2027, 2, 12))


@pytest.mark.parametrize("line, year, problem", [
    # the weekdays the notice prints give the wrong year away
    ("春节：2月6日至12日放假调休，共7天。2月14日（星期日）上班。", 2026, "2026年2月14日是星期六，通知写的是星期日"),
    ("春节：2月6日至11日放假调休，共7天。", 2027, "是6天，通知写的是共7天"),
    ("春节：2月6日至12日放假调休", 2027, None),
    ("春节2月6日至12日放假", 2027, "无法识别"),
    ("春节：2月30日放假1天。", 2027, "2027年没有2月30日"),
    ("春节：2月12日至6日放假。", 2027, "早于"),
    ("春节：2月6日至12日放假。2月6日上班。", 2027, "既是放假又是上班"),
    ("春节：6日至12日放假。", 2027, "没有写月份"),
    ("春节：2月6日、2月7日。", 2027, "既不是放假也不是上班"),
    ("春节：放假调休。", 2027, "没有写明放假日期"),
    ("春节：2月6日至12日放假，2月14日另行通知。", 2027, "放假之后的日期既不是放假也不是上班"),
])
def test_what_does_not_add_up_is_said(line, year, problem):
    problems = parse_notice(line, year).problems
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0], problems


def test_command_line_runs():
    assert parse_run("2027-02-06..2027-02-12") == days(D(2027, 2, 6), D(2027, 2, 12))
    assert parse_run("2027-02-14") == [D(2027, 2, 14)]
    for bad, message in (("2027-02-12..2027-02-06", "早于"), ("2027-2-6", "YYYY-MM-DD"),
                         ("2027-01-01..2027-03-01", "最多")):
        with pytest.raises(ValueError, match=message):
            parse_run(bad)


# --- entering days: due dates follow ----------------------------------------------------------

from sqlalchemy import select  # noqa: E402

from reporting.calendar.holidays import due_changes, uncovered_periods  # noqa: E402
from reporting.campaigns.campaigns import create_campaign  # noqa: E402
from reporting.extensions import db  # noqa: E402
from reporting.filing.filing import import_reports  # noqa: E402
from reporting.models import AuditEntry, DueChange, HolidayOverride, Region, Report  # noqa: E402
from reporting.regions.hierarchy import descendants_at, region_by_code  # noqa: E402

COUNTS = {"population": 3000, "should_enroll": 2600, "enrolled": 2000, "hardship_should": 80,
          "hardship_enrolled": 78, "students_enrolled": 400, "newborns_enrolled": 20, "college_enrolled": 0}
FILER = {"name": "黄丽华", "phone": "13802216103", "head": "张局长"}


def weekly_2027(jiangmen):
    """A weekly campaign due on Thursdays, reaching into 2027: …, 1月28日, 2月4日, 2月11日, 2月18日, …"""
    campaign, warning = create_campaign(name="江门市2027年度周报", root=jiangmen, start=D(2026, 9, 3),
                                        end=D(2026, 12, 31), extend_to=D(2027, 2, 28), rhythm="weekly")
    db.session.commit()
    return campaign, warning


def period_due(campaign, nominal: dt.date):
    return next(p for p in campaign.periods if p.nominal_due == nominal)


def first_village() -> str:
    return db.session.scalar(descendants_at(region_by_code("440705"), "village")
                             .with_only_columns(Region.code).order_by(Region.code))


def test_the_unknown_year_warning_names_the_periods(runner, jiangmen, frozen_now):
    frozen_now(dt.datetime(2026, 11, 29, 9, 0))
    campaign, warning = weekly_2027(jiangmen)
    assert "2027年" in warning and "/admin/holidays" in warning and "flask holidays add" in warning
    assert "第18期（1月7日）" in warning and "第25期（2月25日）" in warning
    assert "第17期（12月31日）" not in warning  # a 2026 due date is the official calendar's
    affected = uncovered_periods(campaign, D(2026, 11, 29))
    assert [p.seq for p in affected[2027]] == list(range(18, 26))
    listing = runner.invoke(args=["holidays", "list", "2027"]).stdout
    assert "尚未收录；录入0天" in listing
    assert "受影响：江门市2027年度周报 第18期（截止2027-01-07）、第19期（截止2027-01-14）" in listing


def test_cli_moves_future_due_dates_and_leaves_the_past(runner, jiangmen, frozen_now):
    campaign, _ = weekly_2027(jiangmen)
    jan_28, feb_4, feb_11 = (period_due(campaign, d) for d in (D(2027, 1, 28), D(2027, 2, 4), D(2027, 2, 11)))
    assert (jan_28.due, feb_4.due, feb_11.due) == (D(2027, 1, 28), D(2027, 2, 4), D(2027, 2, 11))
    village = first_village()
    frozen_now(dt.datetime(2027, 2, 5, 9, 0))  # 1月28日 and 2月4日 are past
    import_reports(jan_28, [(1, village, COUNTS, FILER)], submit=True)  # 迟报
    import_reports(feb_11, [(1, village, COUNTS, FILER)], submit=True)  # early, on time
    db.session.commit()

    # 1月28日 is past: a day off entered for it now moves nothing and marks nobody
    past = runner.invoke(args=["holidays", "add", "2027-01-28", "--off", "--note", "假设"])
    assert past.exit_code == 0, past.output
    assert "没有报送期次的截止日期需要调整" in past.stdout
    spring = runner.invoke(args=["holidays", "add", "2027-02-06..2027-02-12", "--off", "--note", "春节"])
    assert spring.exit_code == 0, spring.output
    # Thursday the 11th is off, so is the weekend (2027 has no official data): Monday the 15th
    assert "江门市2027年度周报 第23期 报送截止 2027年2月11日 → 2月15日" in spring.stdout
    workday = runner.invoke(args=["holidays", "add", "2027-02-14", "--workday"])
    assert workday.exit_code == 0, workday.output
    assert "第23期 报送截止 2027年2月15日 → 2月14日" in workday.stdout  # the 调休 Sunday is a working day

    db.session.expire_all()
    assert jan_28.due == D(2027, 1, 28) and feb_4.due == D(2027, 2, 4) and feb_11.due == D(2027, 2, 14)
    assert period_due(campaign, D(2027, 2, 18)).due == D(2027, 2, 18)
    reports = {r.period_id: r for r in db.session.scalars(select(Report))}
    assert reports[jan_28.id].late and not reports[feb_11.id].late
    assert [(c.old_due, c.new_due) for c in db.session.scalars(select(DueChange).order_by(DueChange.id))] == [
        (D(2027, 2, 11), D(2027, 2, 15)), (D(2027, 2, 15), D(2027, 2, 14))]
    # what the filers are told: from the date they knew to the date that holds
    assert [c.text for c in due_changes(campaign, D(2027, 2, 5))] == ["第23期 报送截止 2027年2月11日 → 2月14日"]
    kinds = [e.kind for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert kinds.count("holiday.update") == 3 and kinds.count("period.reschedule") == 2
    listing = runner.invoke(args=["holidays", "list", "2027"])
    assert listing.exit_code == 0
    assert "尚未收录" in listing.stdout and "2027-02-14  周日  上班" in listing.stdout
    assert "2027-02-06  周六  放假  春节" in listing.stdout


def test_a_due_date_never_moves_into_the_past(runner, jiangmen, frozen_now):
    campaign, _ = weekly_2027(jiangmen)
    runner.invoke(args=["holidays", "add", "2027-02-06..2027-02-12", "--off"])
    feb_11 = period_due(campaign, D(2027, 2, 11))
    assert feb_11.due == D(2027, 2, 15)
    frozen_now(dt.datetime(2027, 2, 13, 9, 0))
    village = first_village()
    import_reports(feb_11, [(1, village, COUNTS, FILER)], submit=True)  # on time for the 15th
    db.session.commit()
    result = runner.invoke(args=["holidays", "add", "2027-02-11", "--workday"])
    assert result.exit_code == 0 and "保持报送截止 2027-02-15 不变" in result.stderr
    db.session.expire_all()
    assert feb_11.due == D(2027, 2, 15)
    assert not db.session.scalar(select(Report)).late


def test_hand_computed_semimonthly_dues(runner, jiangmen, frozen_now):
    """The demo's rhythm (1st and 15th, into 2027) with a 2027 元旦 and 春节 entered by hand."""
    frozen_now(dt.datetime(2026, 11, 29, 9, 0))
    campaign, _ = create_campaign(name="2027年度", root=jiangmen, start=D(2026, 9, 1), end=D(2026, 12, 31),
                                  extend_to=D(2027, 2, 28), first_due=D(2026, 10, 1))
    db.session.commit()
    before = {p.nominal_due: p.due for p in campaign.periods}
    assert before[D(2026, 10, 1)] == D(2026, 10, 8)  # 国庆 2026, from the official calendar
    for args in (["2026-12-31..2027-01-02", "--off"], ["2027-01-04", "--off"],
                 ["2027-02-13..2027-02-16", "--off"], ["2027-02-20", "--workday"]):
        assert runner.invoke(args=["holidays", "add", *args]).exit_code == 0
    db.session.expire_all()
    after = {p.nominal_due: p.due for p in campaign.periods}
    assert after[D(2027, 1, 1)] == D(2027, 1, 5)     # Fri off, weekend, Mon off: Tuesday
    assert after[D(2027, 1, 15)] == D(2027, 1, 15)
    assert after[D(2027, 2, 1)] == D(2027, 2, 1)
    assert after[D(2027, 2, 15)] == D(2027, 2, 17)   # Mon and Tue off: Wednesday
    assert after[D(2027, 3, 1)] == D(2027, 3, 1)
    assert after[D(2026, 10, 1)] == D(2026, 10, 8)   # past, and the official calendar's anyway
    assert all(after[d] == before[d] for d in before if d.year == 2026)


def test_overrides_of_a_year_the_official_calendar_knows_are_compared(runner, app):
    # the 2026 notice, entered as overrides, agrees with chinesecalendar's 2026 data
    notice = parse_notice(NOTICE_2026, 2026)
    for day, workday in notice.days().items():
        db.session.add(HolidayOverride(day=day, workday=workday, note="2026年节假日安排"))
    db.session.commit()
    agreed = runner.invoke(args=["holidays", "list", "2026"])
    assert "已收录" in agreed.stdout and "与官方数据一致" in agreed.stdout and "不一致" not in agreed.stdout
    # a stale or mistaken override: 2月28日 is an official 调休 working day
    stale = runner.invoke(args=["holidays", "add", "2026-02-28", "--off"])
    assert stale.exit_code == 0 and "有1天与官方数据不一致" in stale.stderr
    listed = runner.invoke(args=["holidays", "list", "2026"]).stdout
    assert "2026-02-28  周六  放假  官方：上班  不一致" in listed
    assert runner.invoke(args=["holidays", "remove", "2026-02-28"]).exit_code == 0
    assert "与官方数据一致" in runner.invoke(args=["holidays", "list", "2026"]).stdout


@pytest.mark.parametrize("args, message", [
    (["2027-02-06"], "--off"),
    (["2027-02-06", "--off", "--workday"], "--off"),
    (["2027-02-12..2027-02-06", "--off"], "早于"),
    (["二月六日", "--off"], "YYYY-MM-DD"),
])
def test_cli_refuses_bad_input_with_one_line(runner, app, args, message):
    result = runner.invoke(args=["holidays", "add", *args])
    assert result.exit_code != 0 and message in result.output
    assert db.session.scalar(select(HolidayOverride)) is None


def test_cli_reads_a_whole_notice(runner, jiangmen, tmp_path):
    campaign, _ = weekly_2027(jiangmen)
    path = tmp_path / "notice.txt"
    path.write_text("二、春节：2月6日至12日放假调休，共7天。2月14日（星期日）上班。\n", encoding="utf-8")
    result = runner.invoke(args=["holidays", "notice", "2027", str(path)])
    assert result.exit_code == 0, result.output
    assert "第23期 报送截止 2027年2月11日 → 2月14日" in result.stdout
    wrong_year = runner.invoke(args=["holidays", "notice", "2026", str(path)])
    assert wrong_year.exit_code != 0 and "年份是否填错" in wrong_year.output
