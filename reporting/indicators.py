"""The form (进度表) a campaign collects: its indicators as data, with the default of seed 002."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from reporting.models import VALUE_SLOTS, Indicator

#: 2023年度江门市居民医保参保进度表: (key, label, part_of)
DEFAULT_FORM: list[tuple[str, str, Optional[str]]] = [
    ("population", "常住人口数", None),
    ("should_enroll", "居民医保应参保人数", None),
    ("enrolled", "居民医保已参保人数", None),
    ("hardship_should", "困难群众应参保人数", "should_enroll"),
    ("hardship_enrolled", "困难群众已参保人数", "enrolled"),
    ("students_enrolled", "中小学生及在园幼儿已参保人数", "enrolled"),
    ("newborns_enrolled", "新生儿已参保人数", "enrolled"),
    ("college_enrolled", "大学生参保人数", None),
]

#: the keys the measures are computed from; every form must have the first two
RATE_NUMERATOR, RATE_DENOMINATOR = "enrolled", "should_enroll"
HARDSHIP_SHOULD, HARDSHIP_ENROLLED = "hardship_should", "hardship_enrolled"


@dataclass(frozen=True)
class Field:
    """An indicator as plain data: what the rules read for every row of a bulk import, without
    the cost of ORM attribute access."""
    key: str
    label: str
    part_of: Optional[str]
    slot: int


def fields(indicators: list[Indicator]) -> list[Field]:
    return [Field(i.key, i.label, i.part_of, i.slot) for i in indicators]


def build_indicators(form: list[tuple[str, str, Optional[str]]]) -> list[Indicator]:
    """Indicator rows for a form definition, each mapped onto its own report value column."""
    keys = [key for key, _, _ in form]
    if len(form) > VALUE_SLOTS:
        raise ValueError(f"一张进度表最多{VALUE_SLOTS}个指标，这里有{len(form)}个")
    if len(set(keys)) != len(keys):
        raise ValueError("指标代码重复")
    for key in (RATE_NUMERATOR, RATE_DENOMINATOR):
        if key not in keys:
            raise ValueError(f"进度表必须包含指标 {key}，才能计算参保率")
    for key, _, part_of in form:
        if part_of is not None and part_of not in keys:
            raise ValueError(f"指标 {key} 所属的总数 {part_of} 不在表中")
    return [Indicator(key=key, label=label, part_of=part_of, position=n, slot=n)
            for n, (key, label, part_of) in enumerate(form, start=1)]
