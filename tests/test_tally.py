"""小计 (tallies): every way a report is written keeps them equal to a recount of the reports."""
import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from reporting.extensions import db
from reporting.filing.filing import ReportConflict, import_reports, save_report
from reporting.models import Period, Region, Report, Tally
from reporting.progress import tally
from reporting.progress.ranking import progress
from reporting.progress.rollup import region_totals
from reporting.regions.hierarchy import region_by_code

from .fixtures.tally import FILER, form, villages_of


def assert_tallies_match(period):
    assert tally.stored(period) == tally.recount(period)


def test_every_write_path_keeps_tallies_equal_to_a_recount(empty_campaign, frozen_now):
    period = empty_campaign.periods[0]
    villages = villages_of("440703")  # 蓬江区
    one, two, three = villages[:3]
    # a draft counts for nothing
    save_report(period, one, form(2000), FILER, user=None, submit=False)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Tally)) == 0
    # submitting adds it, a correction adds the difference
    save_report(period, one, {}, FILER, user=None, submit=True)
    save_report(period, two, form(1500), FILER, user=None, submit=True)
    db.session.commit()
    assert_tallies_match(period)
    save_report(period, one, {"enrolled": 2100}, FILER, user=None, submit=True, reason="补录")
    db.session.commit()
    assert_tallies_match(period)
    # a refused write leaves the tallies as they were
    with pytest.raises(ReportConflict):
        save_report(period, two, {"enrolled": 1}, FILER, user=None, submit=True, reason="x", revision=99)
    db.session.rollback()
    assert_tallies_match(period)
    # a bulk import over the county: new reports, a draft turned submitted, corrections
    rows = [(n + 2, v.code, form(1000 + n), {}) for n, v in enumerate(villages)]
    import_reports(period, rows, submit=True, reason="信息系统重算")
    db.session.commit()
    assert_tallies_match(period)
    # late submissions are counted as late
    frozen_now(dt.datetime(2022, 10, 20, 9, 0))
    other = villages_of("440704")[:4]
    import_reports(period, [(n + 2, v.code, form(900), {}) for n, v in enumerate(other)], submit=True)
    save_report(period, three, form(1990), FILER, user=None, submit=True, reason="更正")
    db.session.commit()
    assert_tallies_match(period)
    late = db.session.scalar(select(func.sum(Tally.late)).where(Tally.period_id == period.id))
    assert late == 4
    township = region_by_code(other[0].code[:9])
    totals = region_totals(period, township)
    stored = db.session.scalar(select(func.sum(Report.v3)).where(
        Report.period_id == period.id, Report.status == "submitted",
        Report.region_id.in_([v.id for v in villages_of(township.code)])))
    assert totals.get("enrolled") == stored and totals.late == sum(1 for v in other if v.code[:9] == township.code)


def test_roll_up_from_tallies_equals_a_group_by_of_the_reports(empty_campaign):
    period = empty_campaign.periods[0]
    villages = villages_of("4407")
    import_reports(period, [(n + 2, v.code, form(1000 + n % 97), {}) for n, v in enumerate(villages)
                            if n % 5], submit=True)
    db.session.commit()
    city = progress(period, region_by_code("4407"))
    for child in city.children:
        expected = db.session.execute(
            select(func.count(Report.id), func.sum(Report.v3)).join(Region, Region.id == Report.region_id)
            .where(Report.period_id == period.id, Report.status == "submitted",
                   Region.county_id == child.region.id)).one()
        assert (child.totals.reports, child.enrolled) == tuple(expected), child.region.name
    assert city.region.enrolled == db.session.scalar(
        select(func.sum(Report.v3)).where(Report.period_id == period.id, Report.status == "submitted"))


def test_rebuild_restores_tallies_after_a_write_around_the_filing_path(empty_campaign):
    period = empty_campaign.periods[0]
    village = villages_of("440703")[0]
    save_report(period, village, form(2000), FILER, user=None, submit=True)
    db.session.commit()
    db.session.execute(Report.__table__.update().values(v3=2500))  # not through filing
    assert tally.stored(period) != tally.recount(period)
    assert tally.rebuild(period) == 1
    assert_tallies_match(period)


def test_parallel_corrections_in_one_township_add_up(app, empty_campaign):
    """Writers in one township all add to the same tally row at once: none may lose another's part."""
    period_id = empty_campaign.periods[0].id
    villages = villages_of("440703002")[:6]
    codes = [v.code for v in villages]
    import_reports(empty_campaign.periods[0], [(n + 2, c, form(1000), {}) for n, c in enumerate(codes)], submit=True)
    db.session.commit()
    start, failures = threading.Barrier(len(codes)), []

    def writer(code: str) -> None:
        with app.app_context():
            try:
                start.wait(10)
                for k in range(1, 6):
                    period, village = db.session.get(Period, period_id), region_by_code(code)
                    save_report(period, village, {"enrolled": 1000 + k}, FILER, user=None, submit=True,
                                reason="更正")
                    db.session.commit()
            except Exception as error:  # reported below, with the writer it happened to
                failures.append(f"{code}: {error!r}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=writer, args=(code,)) for code in codes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    period = db.session.get(Period, period_id)
    assert_tallies_match(period)
    township = region_by_code("440703002")
    assert region_totals(period, township).get("enrolled") == db.session.scalar(
        select(func.sum(Report.v3)).join(Region, Region.id == Report.region_id)
        .where(Report.period_id == period_id, Region.parent_id == township.id, Report.status == "submitted"))
