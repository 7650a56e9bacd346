"""One unit's save reads its neighbourhood once: its own submitted values of the period before (a
falling count warns), its siblings' gains (a jump far above them warns) and their figures (an
outlier among them warns), in one statement."""
import datetime as dt

from sqlalchemy import event

from reporting.extensions import db
from reporting.filing.filing import import_reports, neighbourhood, save_report
from reporting.indicators import fields

from .fixtures.tally import FILER, form, villages_of


def file_two_periods(campaign, frozen_now, villages, gains):
    """Period 1 submitted at 2000 for every village; period 2 submitted with `gains` for the others."""
    first, second = campaign.periods[0], campaign.periods[1]
    import_reports(first, [(n, v.code, form(2000), {}) for n, v in enumerate(villages)], submit=True)
    db.session.commit()
    frozen_now(dt.datetime(2022, 10, 16, 9, 0))
    others = villages[1:]
    import_reports(second, [(n, v.code, form(2000 + gain), {}) for n, (v, gain) in enumerate(zip(others, gains))],
                   submit=True)
    db.session.commit()
    return second


def count_statements():
    seen = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    return seen, lambda: event.remove(db.engine, "before_cursor_execute", listener)


def test_a_jump_far_above_the_siblings_and_a_fall_warn(empty_campaign, frozen_now):
    villages = villages_of("440705001")  # one township's villages
    assert len(villages) >= 5
    second = file_two_periods(empty_campaign, frozen_now, villages, gains=[10, 12, 9, 11, 10, 8, 13, 10, 12, 9][:len(villages) - 1])
    unit = villages[0]

    previous, increases, siblings, _ = neighbourhood(second, unit, fields(empty_campaign.indicators))
    assert previous == form(2000)
    assert sorted(increases) == sorted([10, 12, 9, 11, 10, 8, 13, 10, 12, 9][:len(villages) - 1])
    gains = [10, 12, 9, 11, 10, 8, 13, 10, 12, 9][:len(villages) - 1]
    # this period's figures where a sibling filed it, else the last period's
    assert sorted(s["enrolled"] for s in siblings) == sorted(
        [2000 + gain for gain in gains] + [2000] * (len(villages) - 1 - len(gains)))

    jump = save_report(second, unit, form(2500), FILER, user=None, submit=False, strict=False)
    assert any("超过同级单位新增中位数" in w.message for w in jump.warnings)
    db.session.commit()
    fall = save_report(second, unit, form(1990), FILER, user=None, submit=False, strict=False,
                       revision=jump.report.revision)
    assert any("比上期减少10人" in w.message for w in fall.warnings)


def test_only_submissions_of_both_periods_count(empty_campaign, frozen_now):
    villages = villages_of("440705001")
    first, second = empty_campaign.periods[0], empty_campaign.periods[1]
    # period 1: villages[1] only a draft; period 2: villages[2] only a draft, the others submitted
    import_reports(first, [(n, v.code, form(2000), {}) for n, v in enumerate(villages) if n != 1], submit=True)
    import_reports(first, [(1, villages[1].code, form(2000), {})], submit=False)
    db.session.commit()
    frozen_now(dt.datetime(2022, 10, 16, 9, 0))
    import_reports(second, [(n, v.code, form(2010), {}) for n, v in enumerate(villages) if n not in (0, 2)],
                   submit=True)
    import_reports(second, [(2, villages[2].code, form(2500), {})], submit=False)
    db.session.commit()
    indicators = fields(empty_campaign.indicators)
    previous, increases, siblings, later = neighbourhood(second, villages[0], indicators)
    assert previous == form(2000) and increases == [10] * (len(villages) - 3) and later is None
    # a sibling's figures are this period's, draft or not, else the last period's
    assert sorted(s["enrolled"] for s in siblings) == sorted(
        [2500] + [2010] * (len(villages) - 2))
    assert neighbourhood(second, villages[1], indicators).previous is None  # its period 1 was a draft
    first_period = neighbourhood(first, villages[0], indicators)
    assert first_period.previous is None and first_period.increases == []  # no period before
    # a unit's own later submission (a 补报 of period 1 moves its change), read in the same statement:
    # villages[3] submitted period 2, villages[0] did not, villages[2] only drafted it
    assert neighbourhood(first, villages[3], indicators).later == second.id
    assert neighbourhood(first, villages[0], indicators).later is None
    assert neighbourhood(first, villages[2], indicators).later is None


def test_the_neighbourhood_is_read_in_one_statement(empty_campaign, frozen_now):
    villages = villages_of("440705001")
    second = file_two_periods(empty_campaign, frozen_now, villages, gains=[10] * (len(villages) - 1))
    indicators = fields(empty_campaign.indicators)
    neighbourhood(second, villages[0], indicators)  # warm: the campaign's periods are read once
    seen, stop = count_statements()
    try:
        neighbourhood(second, villages[0], indicators)
    finally:
        stop()
    reads = [s for s in seen if "report" in s.lower()]
    assert len(reads) == 1, seen
