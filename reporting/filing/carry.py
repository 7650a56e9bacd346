"""Values that rarely change between periods (常住人口, 应参保, 困难群众应参保), carried into a new period.

A unit opens a period with these indicators as it submitted them last (沿用上期); the filer types only
the cumulative counts, and may still overwrite a carried value. The grid, the XLSX download and the
upload all read `carried_values`, so that they carry the same numbers.
"""
from __future__ import annotations

from typing import Iterable, Optional

from sqlalchemy import and_, func, select

from reporting.extensions import db
from reporting.models import Indicator, Period, Region, Report
from reporting.progress.rollup import SUBMITTED
from reporting.progress.tally import FEW_UNITS
from reporting.sql import among

#: the indicator keys a new period takes over from the unit's last submitted report
CARRIED_KEYS = ("population", "should_enroll", "hardship_should")
#: the tooltip of a carried cell, and its note in the workbook
CARRIED_HINT = "沿用上期"


def carried_indicators(indicators: Iterable[Indicator]) -> list:
    return [i for i in indicators if i.key in CARRIED_KEYS]


def carried_values(period: Period, units, indicators: Optional[list] = None, *,
                   by_code: bool = False) -> dict:
    """region id (or code) -> {key: value} of the carried indicators, from each unit's last submitted
    report of an earlier period of the campaign. `units` is a select of region ids, or a list of them.

    One query whatever the number of units: each unit's latest earlier period, joined to its values.
    A county's units are named by their ids (up to tally.FEW_UNITS of them), so that PostgreSQL reads
    them by index; named by a subquery, it planned a scan of every report of the campaign instead
    (50 ms of three processes' CPU for a county's grid, against 7 ms of one).
    """
    carried = carried_indicators(indicators if indicators is not None else period.campaign.indicators)
    if not carried or period.seq <= 1:
        return {}
    listed = isinstance(units, (list, tuple, set))
    ids = list(units) if listed else db.session.scalars(units).all()
    if not ids:
        return {}
    # a city's or a province's units stay a subquery: for so many, reading the campaign's reports whole is right
    mine = among(Report.region_id, ids) if listed or len(ids) <= FEW_UNITS else Report.region_id.in_(units)
    earlier = and_(Period.campaign_id == period.campaign_id, Period.seq < period.seq,
                   Report.status.in_(SUBMITTED), mine)
    latest = (select(Report.region_id, func.max(Period.seq).label("seq"))
              .join(Period, Period.id == Report.period_id)
              .where(earlier).group_by(Report.region_id).subquery())
    columns = [getattr(Report, f"v{i.slot}") for i in carried]
    query = (select(Region.code if by_code else Report.region_id, *columns)
             .join(Period, Period.id == Report.period_id)
             .join(latest, and_(latest.c.region_id == Report.region_id, latest.c.seq == Period.seq))
             .where(earlier))
    if by_code:
        query = query.join(Region, Region.id == Report.region_id)
    keys = [i.key for i in carried]
    found = {}
    for unit, *values in db.session.execute(query):
        kept = {key: value for key, value in zip(keys, values) if value is not None}
        if kept:
            found[unit] = kept
    return found


def with_carried(values: dict[str, Optional[int]], carried: dict[str, int]) -> dict[str, Optional[int]]:
    """A unit's values with each empty carried indicator filled from the last period."""
    if not carried:
        return values
    return {**values, **{k: v for k, v in carried.items() if values.get(k) is None}}
