"""Ranks, lights, 约谈 and worst-of late status, against answers computed by hand."""
import datetime as dt

import pytest

from reporting.extensions import db
from reporting.progress.ranking import bottom_positions, competition_ranks, light, progress, progress_json
from reporting.progress.rollup import FilingCounts
from reporting.regions.hierarchy import region_by_code

from .fixtures.zhuji import TASKS, file


def test_ties_share_a_rank_and_missing_comes_last():
    assert competition_ranks([0.5, 0.7, 0.7, None, 0.1]) == [3, 1, 1, 5, 4]
    assert bottom_positions([0.5, 0.7, 0.7, None, 0.1]) == [3, 4, 4, 1, 2]
    assert bottom_positions([0.2, 0.2, 0.9]) == [1, 1, 3]


@pytest.mark.parametrize("value, expected", [
    (0.50, "green"), (0.60, "green"), (0.4999, "yellow"), (0.40, "yellow"), (0.3999, "red"), (None, "red"),
])
def test_light_boundaries_at_time_progress_one_half(value, expected):
    assert light(value, 0.5) == expected


def test_worst_of_late_status():
    for overdue in (False, True):
        assert FilingCounts(units=3, submitted=3, late=0, overdue=overdue).status == "on_time"
        assert FilingCounts(units=3, submitted=3, late=1, overdue=overdue).status == "late"
    assert FilingCounts(units=3, submitted=2, late=1, overdue=True).status == "missing"
    assert FilingCounts(units=3, submitted=2, late=1, overdue=False).status == "pending"  # 待报 until the due day ends


def test_three_weeks_of_a_township(zhuji, frozen_now):
    campaign, villages = zhuji
    shares = {name: 0.30 for name in TASKS}
    week = campaign.periods
    # week 1 (as of 9月7日): 固城 lowest; 双扬 and 苗河 (the same task) tie
    file(week[0], villages, {**shares, "固城": 0.05, "双扬": 0.20, "苗河": 0.20}, dt.datetime(2022, 9, 7, 10), frozen_now)
    # week 2: 固城 lowest again -> 约谈; 姜山 files late
    file(week[1], villages, {**shares, "固城": 0.06, "姜山": 0.31}, dt.datetime(2022, 9, 14, 10), frozen_now,
         skip=("姜山",))
    file(week[1], villages, {"姜山": 0.31}, dt.datetime(2022, 9, 16, 9), frozen_now)  # due 9月15日
    # week 3: 刘寨 never files
    file(week[2], villages, {**shares, "固城": 0.50, "星光": 0.04}, dt.datetime(2022, 9, 21, 10), frozen_now,
         skip=("刘寨",))
    frozen_now(dt.datetime(2022, 9, 23, 10))

    first = progress(week[0], region_by_code("341323117"), "completion")
    by_name = {r.region.name[:-3]: r for r in first.children}
    assert by_name["朱集"].completion == pytest.approx(round(4723 * 0.3) / 4723)
    assert by_name["固城"].rank == 13 and by_name["双扬"].rank == by_name["苗河"].rank == 11
    # time progress at 9月7日 is 7/122 = 5.74%: 30% is green
    assert first.time_progress == pytest.approx(7 / 122)
    assert by_name["朱集"].light == "green"
    assert not any(r.interview for r in first.children)  # one period is not two in a row

    second = progress(week[1], region_by_code("341323117"))
    by_name = {r.region.name[:-3]: r for r in second.children}
    assert [r.region.name[:-3] for r in second.children if r.interview] == ["固城"]
    assert by_name["姜山"].late == "late" and by_name["朱集"].late == "on_time"
    assert second.region.late == "late"  # worst of its villages
    assert by_name["湖光"].hardship_gap == 3
    assert by_name["朱集"].increase == pytest.approx(0.0, abs=1e-3)

    third = progress(week[2], region_by_code("341323117"))
    by_name = {r.region.name[:-3]: r for r in third.children}
    assert by_name["刘寨"].late == "missing" and third.region.late == "missing"
    # past its due date it ranks last, but counts with its week-2 figures (沿用第2期)
    assert by_name["刘寨"].rank == 13 and by_name["刘寨"].carried_from == week[1]
    assert by_name["刘寨"].completion == pytest.approx(round(4146 * 0.3) / 4146)
    assert not by_name["固城"].interview  # climbed out of the bottom
    assert not by_name["星光"].interview  # bottom only once
    # time progress at 9月21日 is 21/122 = 17.2%: 4% is red (below 7.2%), 30% green
    assert by_name["星光"].light == "red" and by_name["朱集"].light == "green"
    # the township sums its villages: completion from sums, not an average of rates
    enrolled = sum(round(TASKS[n] * (0.5 if n == "固城" else 0.04 if n == "星光" else 0.30))
                   for n in TASKS)
    assert third.region.totals.values["enrolled"] == enrolled
    assert third.region.completion == pytest.approx(enrolled / 41851)
    assert third.region.carried == 1


def test_progress_json_shape(zhuji, frozen_now):
    campaign, villages = zhuji
    file(campaign.periods[0], villages, {name: 0.3 for name in TASKS}, dt.datetime(2022, 9, 7, 10), frozen_now)
    body = progress_json(progress(campaign.periods[0], region_by_code("341323117")))
    assert set(body["region"]) >= {"code", "name", "totals", "rate", "completion", "time_progress", "light", "late"}
    child = body["children"][0]
    assert set(child) >= {"code", "name", "rank", "totals", "rate", "completion", "increase", "light", "late",
                          "interview", "hardship_gap"}
    assert body["region"]["late"] == "on_time" and child["light"] in ("green", "yellow", "red")


def test_city_progress_equals_the_sum_of_its_counties(demo):
    period = demo.periods[3]
    city = progress(period, region_by_code("4407"))
    county_sums = sum(progress(period, c.region).region.totals.values["enrolled"] for c in city.children)
    assert city.region.totals.values["enrolled"] == county_sums
    from sqlalchemy import func, select

    from reporting.models import Report
    assert county_sums == db.session.scalar(select(func.sum(Report.v3)).where(
        Report.period_id == period.id, Report.status == "submitted"))
