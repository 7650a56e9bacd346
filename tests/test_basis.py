"""The one basis (口径): carried figures, never-filed units, 补报, 待报 against 逾期未报, the forecast."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from reporting.circulars.circulars import draft_body
from reporting.extensions import db
from reporting.models import Report
from reporting.progress import tally
from reporting.progress.ranking import progress, progress_json
from reporting.regions.hierarchy import region_by_code

from .conftest import make_user
from .fixtures.basis import TOWNSHIP, file


def by_code(result):
    return {r.region.code: r for r in result.children}


def test_a_unit_that_has_not_filed_counts_with_its_latest_report(shuanghe, frozen_now):
    campaign, township, (a, b, c, d, e) = shuanghe
    first, second = campaign.periods[:2]
    assert (first.due, second.due) == (dt.date(2022, 10, 8), dt.date(2022, 10, 17))
    file(first, [(a, 300), (b, 200), (c, 250), (d, 100)], frozen_now, dt.datetime(2022, 10, 7, 9))
    file(second, [(a, 400), (c, 350), (d, 150)], frozen_now, dt.datetime(2022, 10, 16, 9))  # b skips, e never

    result = progress(second, township, today=dt.date(2022, 10, 18))
    rows = by_code(result)
    assert rows[b.code].enrolled == 200 and rows[b.code].carried_from == first
    assert rows[b.code].late == "missing" and rows[b.code].rank == 4  # last with e, whatever it carries
    assert rows[e.code].enrolled is None and rows[e.code].completion == 0 and rows[e.code].carried_from is None
    assert rows[e.code].rank == 4 and rows[e.code].never_filed == 1
    head = result.region
    # 完成率 keeps every task; 参保率 leaves out the unit that never filed (its 应参保 is not known)
    assert head.enrolled == 400 + 200 + 350 + 150 and head.task == 5000
    assert head.completion == pytest.approx(1100 / 5000)
    assert head.rate == pytest.approx(1100 / 4000)
    assert (head.carried, head.never_filed) == (1, 1)
    # the county reads the tallies: the same figures for the township
    county = by_code(progress(second, township.parent, today=dt.date(2022, 10, 18)))[TOWNSHIP]
    assert (county.enrolled, county.carried, county.never_filed) == (1100, 1, 1)
    assert county.carried_from == first
    body = progress_json(result)
    assert body["region"]["carried"] == 1
    child = {c["code"]: c for c in body["children"]}
    assert child[b.code]["carried_from"] == first.id and child[a.code]["carried_from"] is None


def test_a_late_report_of_a_skipped_period_moves_the_later_ones(shuanghe, frozen_now):
    """补报: b skips period 2, files period 3, then files period 2 late; every period stays exact."""
    campaign, township, (a, b, c, d, e) = shuanghe
    first, second, third = campaign.periods[:3]
    file(first, [(a, 100), (b, 100)], frozen_now, dt.datetime(2022, 10, 7, 9))
    file(second, [(a, 200)], frozen_now, dt.datetime(2022, 10, 16, 9))
    file(third, [(a, 300), (b, 300)], frozen_now, dt.datetime(2022, 10, 31, 9))
    county = township.parent
    assert by_code(progress(second, county))[TOWNSHIP].enrolled == 200 + 100
    file(second, [(b, 180)], frozen_now, dt.datetime(2022, 11, 2, 9))
    for period, expected in ((first, 200), (second, 380), (third, 600)):
        assert by_code(progress(period, county))[TOWNSHIP].enrolled == expected, period.label
        assert progress(period, township).region.enrolled == expected
        assert tally.stored(period) == tally.recount(period)
    # a correction of period 2 moves period 2 only: period 3 has b's own report
    file(second, [(b, 190)], frozen_now, dt.datetime(2022, 11, 3, 9))
    assert [by_code(progress(p, county))[TOWNSHIP].enrolled for p in (first, second, third)] == [200, 390, 600]
    assert all(tally.stored(p) == tally.recount(p) for p in (first, second, third))


def test_when_everyone_filed_the_basis_is_the_plain_sum(shuanghe, frozen_now):
    campaign, township, villages = shuanghe
    period = campaign.periods[0]
    file(period, [(v, 100 + n) for n, v in enumerate(villages)], frozen_now, dt.datetime(2022, 10, 7, 9))
    city = progress(period, region_by_code("4407"))
    plain = db.session.scalar(select(func.sum(Report.v3)).where(Report.period_id == period.id))
    assert city.region.enrolled == plain == sum(100 + n for n in range(5))
    assert city.region.carried == 0 and progress(period, township).region.carried == 0


def test_pending_before_a_holiday_shifted_deadline_missing_after(shuanghe, frozen_now, client, runner):
    """第1期 is nominally due 10月1日; the National Day holiday moves it to 10月8日."""
    campaign, township, (a, b, c, d, e) = shuanghe
    first, second = campaign.periods[:2]
    file(first, [(a, 300), (b, 300), (c, 300), (d, 300), (e, 100)], frozen_now, dt.datetime(2022, 10, 7, 9))
    file(second, [(a, 400), (b, 400), (c, 400), (d, 400)], frozen_now, dt.datetime(2022, 10, 14, 9))

    on_the_day = progress(second, township, today=dt.date(2022, 10, 17))
    assert by_code(on_the_day)[e.code].late == "pending" and on_the_day.region.late == "pending"
    assert not on_the_day.interviews  # e is last in 第1期 but 第2期 is not due yet
    assert [r.region.code for r in on_the_day.warnings] == [e.code]
    text = draft_body(on_the_day).split("四、下一步工作要求")[0]  # the standing requirements aside
    # who is still to report, with the figures it counts with, and by when
    assert f"尚有1个村（社区）待报（{e.name}，沿用第1期数据），报送截止10月17日" in text
    assert "尚未到报送截止时间" not in text and f"{e.name}完成率低于序时进度" not in text
    assert "约谈" not in text and "通报批评" not in text and "逾期" not in text

    after = progress(second, township, today=dt.date(2022, 10, 18))
    row = by_code(after)[e.code]
    assert row.late == "missing" and row.interview and [s.period for s in row.standings] == [first, second]
    text = draft_body(after)
    assert f"{e.name}逾期未报送" in text and f"{e.name}未按时报送进度表，予以通报批评" in text
    assert f"{e.name}连续两期排名末位" in text and "尚未到报送截止时间" not in text

    # the API answers with the server's date: pending until the end of 10月17日
    make_user("boss", "viewer", "4407")
    token = runner.invoke(args=["users", "token", "boss"]).stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    frozen_now(dt.datetime(2022, 10, 17, 23, 59))
    body = client.get(f"/api/v1/progress/{TOWNSHIP}?period={second.id}", headers=headers).get_json()
    assert {c["code"]: c["late"] for c in body["children"]}[e.code] == "pending"
    frozen_now(dt.datetime(2022, 10, 18, 0, 0))
    body = client.get(f"/api/v1/progress/{TOWNSHIP}?period={second.id}", headers=headers).get_json()
    child = {c["code"]: c for c in body["children"]}[e.code]
    assert child["late"] == "missing" and child["interview"] and child["carried_from"] == first.id


def test_forecast_at_the_pace_of_the_last_two_periods(shuanghe, frozen_now):
    campaign, township, (a, b, c, d, e) = shuanghe
    first, second = campaign.periods[:2]  # as of 9月30日 and 10月14日: 14 days apart
    file(first, [(a, 300), (b, 300), (c, 300)], frozen_now, dt.datetime(2022, 10, 7, 9))
    file(second, [(a, 440), (b, 300), (c, 314)], frozen_now, dt.datetime(2022, 10, 14, 9))
    rows = by_code(progress(second, township, today=dt.date(2022, 10, 14)))
    # a: 1 point a day; 78 days from 10月14日 to 12月31日 → 44% + 78% = 122%; 56 days to 100%
    assert rows[a.code].forecast.projected == pytest.approx(0.44 + 0.78)
    assert rows[a.code].forecast.reaches_on == dt.date(2022, 12, 9) and not rows[a.code].forecast.misses
    # b: no progress, no date, a reason, and flagged
    assert rows[b.code].forecast.reaches_on is None and rows[b.code].forecast.misses
    assert "未提高" in rows[b.code].forecast.reason and rows[b.code].forecast.projected == pytest.approx(0.30)
    # c: 0.1 point a day → 31.4% + 7.8% = 39.2% on 12月31日; 100% only after 686 days
    assert rows[c.code].forecast.projected == pytest.approx(0.314 + 0.078)
    assert rows[c.code].forecast.reaches_on == dt.date(2022, 10, 14) + dt.timedelta(days=686)
    assert rows[c.code].forecast.misses
    # d filed once: no pace
    assert rows[d.code].forecast.reaches_on is None and not rows[d.code].forecast.misses
    text = draft_body(progress(second, township, today=dt.date(2022, 10, 18)))
    assert "预计无法在12月31日前完成目标任务" in text
    body = progress_json(progress(second, township))
    child = {x["code"]: x for x in body["children"]}
    assert child[a.code]["reaches_target_on"] == "2022-12-09"
    assert child[a.code]["projected_completion"] == pytest.approx(1.22)


def test_the_interview_rule_is_set_per_campaign_and_level(shuanghe, frozen_now, runner):
    """末位两名、连续一期 for villages: the two lowest of the last judged period."""
    campaign, township, (a, b, c, d, e) = shuanghe
    first = campaign.periods[0]
    file(first, [(a, 300), (b, 200), (c, 250), (d, 100), (e, 400)], frozen_now, dt.datetime(2022, 10, 7, 9))
    result = runner.invoke(args=["campaign", "interview-rule", str(campaign.id), "--level", "village",
                                 "--bottom", "2", "--periods", "1"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    after = progress(first, township, today=dt.date(2022, 10, 9))
    assert after.rule == (2, 1)
    assert sorted(r.region.code for r in after.interviews) == sorted([d.code, b.code])
    assert progress(first, township.parent, today=dt.date(2022, 10, 9)).rule == (1, 2)  # townships keep the default


def test_before_the_due_date_nobody_is_interviewed_and_the_would_be_listed_are_warned(shuanghe, frozen_now):
    campaign, township, (a, b, c, d, e) = shuanghe
    first, second = campaign.periods[:2]
    file(first, [(a, 300), (b, 300), (c, 300), (d, 100), (e, 200)], frozen_now, dt.datetime(2022, 10, 7, 9))
    file(second, [(a, 400), (b, 400), (c, 400), (d, 150)], frozen_now, dt.datetime(2022, 10, 14, 9))
    before = progress(second, township, today=dt.date(2022, 10, 17))
    rows = by_code(before)
    # e carries 20% (沿用第1期), above d's 15%: d is last twice, but the period has not closed:
    # 约谈 belongs to a closed period, so d is 预警 until the due date passes
    assert not before.interviews and rows[d.code].warning and len(rows[d.code].standings) == 2
    assert rows[e.code].late == "pending" and rows[e.code].rank == 4 and not rows[e.code].interview
    # e files 10% late: it is the lowest now, yet 迟报 and filed, so it is judged like everyone
    file(second, [(e, 100)], frozen_now, dt.datetime(2022, 10, 18, 9))
    after = progress(second, township, today=dt.date(2022, 10, 18))
    assert not after.interviews  # d was last in 第1期, e in 第2期: nobody twice
    assert [r.region.code for r in after.warnings] == [e.code]


def test_the_regions_forecast_is_the_sum_of_its_units(shuanghe, frozen_now):
    campaign, township, (a, b, c, d, e) = shuanghe
    first, second = campaign.periods[:2]  # as of 9月30日 and 10月14日
    file(first, [(a, 300), (b, 300), (c, 300)], frozen_now, dt.datetime(2022, 10, 7, 9))
    file(second, [(a, 440), (b, 300)], frozen_now, dt.datetime(2022, 10, 16, 9))  # c carries 第1期
    head = progress(second, township, today=dt.date(2022, 10, 16)).region
    # a: 440 + 10 a day for 78 days = 1,220; b stays at 300; c has one period (no pace) at 300; d, e 0
    assert head.forecast.projected == pytest.approx((1220 + 300 + 300) / 5000)
    # the township reaches its 5,000 when a alone has added 5,000 − 1,040 = 3,960: 396 days after 10月14日
    assert head.forecast.reaches_on == dt.date(2022, 10, 14) + dt.timedelta(days=396) and head.forecast.misses
