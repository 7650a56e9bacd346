"""The bulk import's fast paths (driver writes, no revision row for a first submission, the paused
collector) keep what the form's rules and the history promise, on SQLite and PostgreSQL."""
import datetime as dt
import gc

import pytest
from sqlalchemy import func, select

from reporting import bulk
from reporting.campaigns.campaigns import create_campaign
from reporting.extensions import db
from reporting.filing.filing import filing_status, history, import_reports
from reporting.models import Region, Report, Revision
from reporting.regions.hierarchy import descendants_at
from reporting.tables import ImportRejected

KEYS = ("population", "should_enroll", "enrolled", "hardship_should", "hardship_enrolled",
        "students_enrolled", "newborns_enrolled", "college_enrolled")
ON_TIME = dt.datetime(2022, 10, 6, 9, 0)


def counts(n: int, enrolled: int = 2000) -> dict:
    return dict(zip(KEYS, (3000, 2600, enrolled + n, 80, 78, 400, 20, n % 7)))


@pytest.fixture
def period(jiangmen, frozen_now):
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
    db.session.commit()
    frozen_now(ON_TIME)
    return campaign.periods[0]


@pytest.fixture
def villages(jiangmen):
    return list(db.session.scalars(descendants_at(jiangmen, "village").order_by(Region.code)))


def rows(villages, enrolled: int = 2000):
    return [(n + 2, v.code, counts(n, enrolled), {}) for n, v in enumerate(villages)]


def revisions_by_unit(period) -> dict[int, list]:
    """The history of every village, oldest first: revision rows and the first submissions made
    from the reports."""
    region_of = dict(db.session.execute(select(Report.id, Report.region_id)).all())
    found: dict[int, list] = {}
    for entry in sorted(history(period, list(region_of.values()), limit=100_000), key=lambda e: e.number):
        found.setdefault(region_of[entry.report_id], []).append(entry)
    return found


def revision_rows() -> int:
    return db.session.scalar(select(func.count(Revision.id)))


def test_each_first_submission_is_in_the_history_with_its_values_but_no_revision_row(period, villages):
    outcome = import_reports(period, rows(villages), submit=True)
    db.session.commit()
    assert (outcome.inserted, outcome.written) == (1348, True)
    assert revision_rows() == 0
    history = revisions_by_unit(period)
    assert len(history) == 1348
    for n, village in enumerate(villages):
        (revision,) = history[village.id]
        assert (revision.number, revision.kind, revision.old_values, revision.created_at) == (1, "submit", {}, ON_TIME)
        assert revision.new_values == counts(n) and revision.user is None
    report = db.session.scalar(select(Report).where(Report.region_id == villages[9].id))
    assert (report.status, report.revision, report.v3, report.submitted_at) == ("submitted", 1, 2009, ON_TIME)


def test_drafts_submitted_by_an_import_are_numbered_after_the_draft(period, villages):
    import_reports(period, rows(villages[:40]), submit=False)
    db.session.commit()
    assert db.session.scalar(select(Revision.id)) is None  # a draft is no revision
    outcome = import_reports(period, rows(villages[:40]), submit=True)
    db.session.commit()
    assert (outcome.updated, outcome.inserted) == (40, 0)
    history = revisions_by_unit(period)
    for n, village in enumerate(villages[:40]):
        (revision,) = history[village.id]
        assert (revision.number, revision.kind, revision.old_values) == (2, "submit", {})
        assert revision.new_values == counts(n)


def test_a_correction_keeps_the_values_it_replaced(period, villages):
    import_reports(period, rows(villages[:30]), submit=True)
    db.session.commit()
    outcome = import_reports(period, rows(villages[:30], enrolled=1000), submit=True, reason="信息系统重算")
    db.session.commit()
    assert outcome.updated == 30 and revision_rows() == 30  # the corrections' rows only
    first, second = revisions_by_unit(period)[villages[3].id]
    assert (second.number, second.kind, second.reason) == (2, "correct", "信息系统重算")
    assert (second.old_values, second.new_values) == (counts(3), counts(3, 1000))
    assert (first.number, first.kind, first.old_values, first.new_values) == (1, "submit", {}, counts(3))


def test_a_late_import_is_marked_late_by_the_database_too(period, villages, frozen_now):
    late = frozen_now(dt.datetime(2022, 10, 9, 9, 0))  # after the due day (10月8日, 节假日顺延)
    assert late >= period.deadline
    import_reports(period, rows(villages[:12]), submit=True)
    db.session.commit()
    status = filing_status(period, period.campaign.root)
    assert (status.submitted, status.late) == (12, 12)
    report = db.session.scalar(select(Report).where(Report.region_id == villages[0].id))
    assert report.late and report.submitted_at == late


def test_small_batches_still_write_every_unit(period, villages, monkeypatch):
    monkeypatch.setattr(bulk, "BATCH", 100)
    import_reports(period, rows(villages[:250]), submit=False)
    import_reports(period, rows(villages), submit=True)
    db.session.commit()
    reports = db.session.scalars(select(Report)).all()
    assert len(reports) == 1348 and {r.status for r in reports} == {"submitted"}
    history = revisions_by_unit(period)
    assert len(history) == 1348
    assert {history[v.id][0].number for v in villages[:250]} == {2}
    assert {history[v.id][0].number for v in villages[250:]} == {1}


def test_the_collector_runs_again_after_an_import_written_or_refused(period, villages):
    import_reports(period, rows(villages[:5]), submit=True)
    assert gc.isenabled()
    with pytest.raises(ImportRejected):
        import_reports(period, [(2, villages[0].code, {"enrolled": "很多"}, {})], submit=True)
    assert gc.isenabled()
    db.session.rollback()
    gc.disable()
    try:
        import_reports(period, rows(villages[5:10]), submit=True)
        assert not gc.isenabled()  # a caller that paused it keeps it paused
    finally:
        gc.enable()


def test_the_statuses_of_several_periods_equal_each_period_on_its_own(period, villages, frozen_now):
    """The home page's to-do reads four periods in one aggregate: the same counts as one by one,
    with a late submission, drafts, and a period nobody has filed."""
    from reporting.filing.filing import filing_statuses
    campaign = period.campaign
    import_reports(period, rows(villages[:40]), submit=True)
    import_reports(period, rows(villages[40:55]), submit=False)
    db.session.commit()
    second = campaign.periods[1]
    frozen_now(second.deadline + dt.timedelta(hours=2))
    import_reports(second, rows(villages[:7]), submit=True)  # after its due date
    import_reports(second, rows(villages[7:10]), submit=False)
    db.session.commit()
    periods = campaign.periods[:4]
    for region in (campaign.root, db.session.get(Region, villages[0].county_id)):
        together = filing_statuses(campaign, periods, region)
        assert together == {p.id: filing_status(p, region) for p in periods}
    assert filing_statuses(campaign, periods, campaign.root)[second.id].late == 7
    assert filing_statuses(campaign, periods, campaign.root)[periods[3].id].submitted == 0


def test_the_warnings_worked_out_beside_the_write_are_a_dry_runs(period, villages, frozen_now):
    """Without a hold on warnings, the warnings that compare rows (jumps, outliers among siblings)
    are worked out in a thread while the database checks the written rows: the same warnings as a
    dry run finds, and counted in the audit entry."""
    from reporting.models import AuditEntry
    import_reports(period, rows(villages), submit=True)
    db.session.commit()
    second = period.campaign.periods[1]
    frozen_now(second.deadline - dt.timedelta(days=1))
    batch = rows(villages, enrolled=2010)
    batch[0] = (2, villages[0].code, counts(0, 40_000), {})  # a jump, and far above its siblings
    checked = import_reports(second, batch, submit=True, dry_run=True)
    written = import_reports(second, batch, submit=True)
    db.session.commit()
    assert written.written and len(written.warnings) >= 2
    assert [(w.code, w.message) for w in written.warnings] == [(w.code, w.message) for w in checked.warnings]
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.kind == "reports.import")
                               .order_by(AuditEntry.id.desc())).first()
    assert entry.after["warnings"] == len(written.warnings)


def test_an_error_in_the_work_beside_the_write_reaches_the_caller(period, villages, monkeypatch):
    """The thread's exception is raised in the import, not lost: nothing is left half-written."""
    from reporting.filing import filing

    def broken(*args):
        raise RuntimeError("坏了")
    monkeypatch.setattr(filing, "_sibling_warnings", broken)
    with pytest.raises(RuntimeError, match="坏了"):
        import_reports(period, rows(villages[:40]), submit=True)
    db.session.rollback()
    assert db.session.scalar(select(func.count(Report.id))) == 0
