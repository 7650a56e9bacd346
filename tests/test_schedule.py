"""Periods, 节假日顺延 and 序时进度."""
import datetime as dt

import pytest

from reporting.calendar.schedule import Calendar, default_first_due, nominal_dues, reschedule, time_progress
from reporting.campaigns.campaigns import CampaignError, create_campaign
from reporting.extensions import db
from reporting.models import Campaign, HolidayOverride

D = dt.date


@pytest.mark.parametrize("nominal, due", [
    (D(2022, 10, 1), D(2022, 10, 8)),   # 国庆 and its 调休
    (D(2022, 10, 15), D(2022, 10, 17)),  # a Saturday
    (D(2023, 1, 1), D(2023, 1, 3)),     # 元旦 observed on Monday the 2nd
    (D(2026, 11, 1), D(2026, 11, 2)),   # a Sunday
    (D(2022, 11, 1), D(2022, 11, 1)),   # a working Tuesday stays
])
def test_due_dates_follow_the_official_calendar(nominal, due):
    assert Calendar().next_workday(nominal) == due


def test_overrides_win_over_the_calendar():
    calendar = Calendar({D(2022, 11, 1): False})
    assert calendar.next_workday(D(2022, 11, 1)) == D(2022, 11, 2)


def test_uncovered_year_falls_back_to_weekends_and_says_so():
    calendar = Calendar()
    assert calendar.next_workday(D(2027, 1, 2)) == D(2027, 1, 4)  # a Saturday
    assert calendar.uncovered_years == {2027}


def test_semimonthly_dues_of_seed_002():
    dues = nominal_dues("semimonthly", D(2022, 10, 1), D(2023, 2, 28))
    assert dues[:4] == [D(2022, 10, 1), D(2022, 10, 15), D(2022, 11, 1), D(2022, 11, 15)]
    assert dues[-1] == D(2023, 3, 1)  # as of 2月28日, the last day of the extension
    assert len(dues) == 11


def test_default_first_due():
    assert default_first_due("semimonthly", D(2022, 9, 1)) == D(2022, 9, 15)
    assert default_first_due("semimonthly", D(2022, 9, 15)) == D(2022, 10, 1)
    assert default_first_due("weekly", D(2022, 9, 1)) == D(2022, 9, 8)


def test_campaign_periods_carry_as_of_and_shifted_due(jiangmen):
    campaign, warning = create_campaign(name="2023年度", root=jiangmen, start=D(2022, 9, 1),
                                        end=D(2022, 12, 31), extend_to=D(2023, 2, 28),
                                        first_due=D(2022, 10, 1))
    assert warning is None
    first, second = campaign.periods[:2]
    assert (first.seq, first.as_of, first.due) == (1, D(2022, 9, 30), D(2022, 10, 8))
    assert (second.as_of, second.due) == (D(2022, 10, 14), D(2022, 10, 17))
    assert first.label == "第1期（截至9月30日）"
    assert [p.due for p in campaign.periods if p.nominal_due == D(2023, 1, 1)] == [D(2023, 1, 3)]


def test_weekly_campaign(jiangmen):
    campaign, _ = create_campaign(name="周报", root=jiangmen, start=D(2022, 9, 1),
                                  end=D(2022, 12, 31), rhythm="weekly")
    assert campaign.periods[0].nominal_due == D(2022, 9, 8)
    assert all((b.nominal_due - a.nominal_due).days == 7
               for a, b in zip(campaign.periods, campaign.periods[1:]))
    assert campaign.periods[-1].as_of <= D(2022, 12, 31)


def test_uncovered_year_warns_and_overrides_reschedule(jiangmen):
    campaign, warning = create_campaign(name="2027年度", root=jiangmen, start=D(2026, 9, 1),
                                        end=D(2026, 12, 31), extend_to=D(2027, 2, 28),
                                        first_due=D(2026, 10, 1))
    assert "2027年" in warning and "节假日调整" in warning
    feb_1 = next(p for p in campaign.periods if p.nominal_due == D(2027, 2, 1))
    assert feb_1.due == D(2027, 2, 1)  # a Monday, as far as anyone knows
    db.session.add(HolidayOverride(day=D(2027, 2, 1), workday=False, note="假设的调整"))
    db.session.flush()
    reschedule(campaign)
    assert feb_1.due == D(2027, 2, 2)


def test_time_progress():
    campaign = Campaign(start=D(2022, 9, 1), end=D(2022, 12, 31))  # 122 days
    assert time_progress(campaign, D(2022, 9, 1)) == pytest.approx(1 / 122)
    assert time_progress(campaign, D(2022, 10, 31)) == pytest.approx(61 / 122)
    assert time_progress(campaign, D(2022, 12, 31)) == 1.0
    assert time_progress(campaign, D(2023, 2, 1)) == 1.0
    assert time_progress(campaign, D(2022, 8, 1)) == 0.0


def test_bad_campaigns_are_refused(jiangmen):
    with pytest.raises(CampaignError, match="早于开始日期"):
        create_campaign(name="x", root=jiangmen, start=D(2022, 9, 1), end=D(2022, 8, 1))
    with pytest.raises(CampaignError, match="1日或15日"):
        create_campaign(name="x", root=jiangmen, start=D(2022, 9, 1), end=D(2022, 12, 31),
                        first_due=D(2022, 10, 3))


def test_cli_campaign_create_prints_the_id_last(runner, jiangmen):
    result = runner.invoke(args=["campaign", "create", "--name", "2023年度", "--root", "4407",
                                 "--start", "2022-09-01", "--end", "2022-12-31",
                                 "--extend-to", "2023-02-28", "--first-due", "2022-10-01"])
    assert result.exit_code == 0, result.output
    campaign_id = int(result.stdout.strip().splitlines()[-1])
    campaign = db.session.get(Campaign, campaign_id)
    assert campaign.periods[0].due == D(2022, 10, 8)
    assert "2022-10-08" in result.stdout


def test_cli_campaign_create_refuses_unknown_root(runner, jiangmen):
    result = runner.invoke(args=["campaign", "create", "--name", "x", "--root", "9999",
                                 "--start", "2022-09-01", "--end", "2022-12-31"])
    assert result.exit_code != 0 and "9999" in result.output
