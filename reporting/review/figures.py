"""What a reviewer reads beside each unit before approving it: its counts, measure, change and warnings."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from reporting.indicators import RATE_DENOMINATOR, RATE_NUMERATOR
from reporting.models import Period, Region
from reporting.progress.rollup import basis, main_measure, ratio, task_totals
from reporting.validation import check


@dataclass
class UnitFigures:
    """One report-level unit's figures for the period, on the one basis."""
    values: dict
    task: Optional[int]
    rate: Optional[float]
    completion: Optional[float]
    #: the change of its main measure (完成率 with a task, else 参保率) since the last period
    change: Optional[float]
    #: the rules' warnings on these figures, as the filer saw them
    warnings: list[str] = field(default_factory=list)

    @property
    def measure(self) -> Optional[float]:
        return main_measure(self.task, self.completion, self.rate)


def _measure(values: dict, task: Optional[int]) -> Optional[float]:
    enrolled = values.get(RATE_NUMERATOR)
    return main_measure(task, ratio(enrolled or 0, task) if task else None,
                        ratio(enrolled, values.get(RATE_DENOMINATOR)))


def unit_figures(period: Period, region: Region) -> dict[int, UnitFigures]:
    """unit id -> its figures, for every report-level unit under `region` that has any: one query of
    the basis (rollup.basis) and one of the tasks, whatever the number of units."""
    campaign = period.campaign
    level = campaign.report_level
    series = basis(period, region, level)
    tasks = task_totals(campaign, region, level)
    indicators = campaign.indicators
    found = {}
    for unit_id, periods in series.items():
        now = periods[-1]
        before = periods[-2] if len(periods) > 1 and periods[-2].values else None
        task = tasks.get(unit_id)
        measure = _measure(now.values, task)
        previous = _measure(before.values, task) if before else None
        _, warned = check(indicators, now.values, {}, submit=False,
                          previous=before.values if before else None, require_signature=False)
        found[unit_id] = UnitFigures(
            now.values, task, ratio(now.values.get(RATE_NUMERATOR), now.values.get(RATE_DENOMINATOR)),
            ratio(now.values.get(RATE_NUMERATOR) or 0, task) if task else None,
            None if measure is None or previous is None else measure - previous,
            [w.message for w in warned])
    return found
