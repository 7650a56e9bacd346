"""The day decides the schedule, 待报 or 逾期, the 催报 countdown, the to-do and a circular's 截至 date: each
judged the same way on every path, at the moments that break date logic (tests/moments.py).

The campaign is built around each moment (朱集镇's 13 villages, semi-monthly), so every moment meets a
period that is still open and one whose due day has passed.
"""
import datetime as dt

import pytest

from reporting.accounts.accounts import create_token
from reporting.calendar.schedule import Calendar, current_period
from reporting.campaigns.campaigns import create_campaign
from reporting.circulars.circulars import draft_document, new_draft
from reporting.departments.departments import add_department, department_progress
from reporting.extensions import db
from reporting.filing.filing import import_reports, late_status
from reporting.home.todo import todo
from reporting.progress.ranking import progress
from reporting.regions.hierarchy import region_by_code
from reporting.reminders.reminders import Outstanding, draft_text

from .conftest import FILER, VALUES, make_user, villages
from .moments import MOMENTS

TOWN = "341323117"  # 朱集镇


@pytest.fixture
def around(anhui, frozen_now, request):
    """(now, campaign, open period, the period before it) with village 1 filed on time for both."""
    now = frozen_now(request.param)
    campaign, _ = create_campaign(name="朱集镇征缴", root=anhui, start=now.date() - dt.timedelta(days=75),
                                  end=now.date() + dt.timedelta(days=45))
    add_department(campaign, "镇民政办", ["hardship_enrolled"])
    db.session.flush()
    open_period = current_period(campaign, now.date())
    before = campaign.periods[open_period.seq - 2]
    first = villages(TOWN)[0]
    for period in (before, open_period):
        frozen_now(min(now, dt.datetime.combine(period.due, dt.time(9))))  # on time: by 9:00 of its due day
        import_reports(period, [(1, first, VALUES, FILER)], submit=True)
    db.session.commit()
    frozen_now(now)
    return now, campaign, open_period, before


def sweep(test):
    return pytest.mark.parametrize("around", MOMENTS, indirect=True)(test)


@sweep
def test_due_dates_are_the_first_working_day_from_the_1st_or_the_15th(around):
    now, campaign, open_period, before = around
    calendar = Calendar.from_db()
    for period in campaign.periods:
        assert period.nominal_due.day in (1, 15)
        assert period.as_of == period.nominal_due - dt.timedelta(days=1)
        assert calendar.is_workday(period.due) and period.due >= period.nominal_due
        skipped = (period.nominal_due + dt.timedelta(days=n) for n in range((period.due - period.nominal_due).days))
        assert not any(calendar.is_workday(day) for day in skipped)  # 节假日顺延 to the first working day
        assert period.deadline == dt.datetime.combine(period.due + dt.timedelta(days=1), dt.time())
    # the open period is the first whose due day has not passed
    assert open_period.due >= now.date() > before.due


@sweep
def test_pending_and_overdue_are_one_judgement_on_every_path(around, client):
    now, campaign, open_period, before = around
    town = region_by_code(TOWN)
    unfiled = villages(TOWN)[1]
    for period, expected in ((open_period, "pending"), (before, "missing")):
        assert late_status(None, period, now) == expected
        result = progress(period, town)
        assert result.overdue is (expected == "missing")
        lates = {row.region.code: row.late for row in result.children}
        assert lates[unfiled] == expected and lates[villages(TOWN)[0]] == "on_time"
        assert [d.late for d in department_progress(period, town, now)] == [expected]

    filer = make_user("zhuji", "township_filer", TOWN)
    token = create_token(filer, filer)
    db.session.commit()
    for period, expected in ((open_period, "pending"), (before, "missing")):
        answer = client.get(f"/api/v1/progress/{TOWN}?period={period.id}",
                            headers={"Authorization": f"Bearer {token}"}).get_json()
        assert {c["code"]: c["late"] for c in answer["children"]}[unfiled] == expected
        assert answer["departments"][0]["late"] == expected

    items = todo(filer, campaign, open_period, now)
    overdue = [item.text for item in items if item.kind == "overdue"]
    assert any(before.label in text for text in overdue)
    assert not any(open_period.label in text for text in overdue)
    assert any(item.kind == "due" and open_period.label in item.text for item in items)


@sweep
def test_a_reminder_counts_the_days_to_the_due_day(around):
    now, campaign, open_period, before = around
    owed = Outstanding(region=region_by_code(TOWN), units=13, missing=12, draft=0, returned=0)
    left = (open_period.due - now.date()).days
    text = draft_text(open_period, owed, "灵璧县医疗保障局", now)
    assert (f"（还有{left}天）" if left else "（今天截止）") in text and "请于截止前报送" in text
    late = draft_text(before, owed, "灵璧县医疗保障局", now)
    assert f"（已逾期{(now.date() - before.due).days}天）" in late and "请尽快报送" in late


@sweep
def test_a_circular_is_dated_by_its_period_not_by_the_day_it_is_drafted(around):
    now, campaign, open_period, before = around
    document = draft_document(new_draft(before, region_by_code(TOWN)))
    assert document.as_of == before.as_of  # the title's （截至…） and the annexes' figures
    assert document.signature.date == now.date() and document.number.year == now.year
