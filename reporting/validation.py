"""The one set of rules for a filed form: errors block submission, warnings need a second look.

The grid, the XLSX upload, `flask reports import` and the JSON API all call `check`, so that
they refuse the same things in the same words.
"""
from __future__ import annotations

import functools
import re
import statistics
from dataclasses import dataclass
from typing import Any, Optional

from reporting.indicators import HARDSHIP_ENROLLED, HARDSHIP_SHOULD, RATE_DENOMINATOR, RATE_NUMERATOR

POPULATION = "population"
#: a group's enrolled count and its should-enroll count: X_enrolled beside X_should
ENROLLED_SUFFIX, SHOULD_SUFFIX = "_enrolled", "_should"
from reporting.models import Indicator

#: an increase more than this many times the median increase of the siblings is flagged
JUMP_FACTOR = 5
#: a value this many times the unit's last period's, or the largest of its siblings', is flagged
FAR_FACTOR = 10
#: ...when it is also this many people away, so that small counts (新生儿 3 → 40) pass
FAR_MARGIN = 1000
#: the largest count a cell may hold: more people than live in China is a typing error
MAX_COUNT = 2_000_000_000
FILER_FIELDS = {"name": "填表人", "phone": "联系电话", "head": "单位负责人"}
#: the longest each filer field may be: the size of its column (a phone may carry spaces beyond its digits)
FILER_LIMITS = {"name": 50, "phone": 30, "head": 50}
#: the longest reason a correction may give, on every path (grid, upload, CLI, API)
REASON_LIMIT = 500
#: control characters: PostgreSQL stores no NUL, and none of them belongs in a name, a phone or a reason
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PHONE = re.compile(r"^(1[3-9]\d{9}|(0\d{2,3}-?)?[2-9]\d{6,7}(-\d{1,6})?)$")


@dataclass(frozen=True)
class Issue:
    #: an indicator key, filer.name / filer.phone / filer.head, reason, or None for the whole form
    field: Optional[str]
    message: str

    def as_json(self) -> dict:
        return {"field": self.field, "message": self.message}


def parse_values(indicators: list[Indicator], raw: dict[str, Any]) -> tuple[dict[str, Optional[int]], list[Issue]]:
    """Turn submitted cells into counts. Blank is None; anything not a whole number is an error."""
    values: dict[str, Optional[int]] = {}
    errors: list[Issue] = []
    given = 0
    for i in indicators:
        key = i.key
        if key not in raw:
            continue
        given += 1
        cell = raw[key]
        if type(cell) is str and cell.isdigit() and cell.isascii() and len(cell) <= 12:
            count = int(cell)  # the common case, a bulk import's cell
            if count <= MAX_COUNT:
                values[key] = count
                continue
        label = i.label
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            values[key] = None
            continue
        count = _as_int(cell)
        if count is None:
            errors.append(Issue(key, f"{label}应为整数，“{_shorten(cell)}”不是整数"))
        elif count < 0:
            errors.append(Issue(key, f"{label}不能为负数"))
        elif count > MAX_COUNT:
            errors.append(Issue(key, f"{label}数值过大（{count:,}），请核实"))
        else:
            values[key] = count
    if given < len(raw):
        keys = {i.key for i in indicators}
        errors[:0] = [Issue(key, f"“{key}”不是本表的指标") for key in raw if key not in keys]
    return values, errors


def _as_int(cell: Any) -> Optional[int]:
    if type(cell) is str and cell.isdigit() and cell.isascii() and len(cell) <= 12:
        return int(cell)  # the common case, a bulk import's cell: first, before any other test
    if isinstance(cell, bool):
        return None
    if isinstance(cell, int):
        return cell
    if isinstance(cell, float):
        return int(cell) if cell.is_integer() else None
    if isinstance(cell, str):
        return count_from_text(cell)
    return None


#: Chinese input methods type full-width digits, commas and minus signs; other scripts' digits are refused
FULL_WIDTH = str.maketrans("０１２３４５６７８９，－", "0123456789,-")
PLAIN = re.compile(r"-?[0-9]{1,12}")
#: thousands separators only every three digits: 12,345 is a number, 1000,900,500 is not
GROUPED = re.compile(r"-?[0-9]{1,3}(?:,[0-9]{3}){1,4}")


def count_from_text(text: str) -> Optional[int]:
    """The whole number a cell's text holds, or None: ASCII or full-width digits, with an optional
    minus sign and thousands separators in their places."""
    text = text.strip()
    if text.isascii() and text.isdigit() and len(text) <= 12:
        return int(text)  # the common case, without a regular expression
    text = text.translate(FULL_WIDTH)
    if PLAIN.fullmatch(text) or GROUPED.fullmatch(text):
        return int(text.replace(",", ""))
    return None


def _shorten(cell: Any) -> str:
    text = str(cell)
    return text if len(text) <= 20 else text[:20] + "…"


def check(indicators: list[Indicator], values: dict[str, Optional[int]], filer: dict[str, str], *,
          submit: bool, previous: Optional[dict[str, Optional[int]]] = None,
          sibling_increases: Optional[list[int]] = None,
          sibling_values: Optional[list[dict[str, Optional[int]]]] = None,
          require_signature: bool = True) -> tuple[list[Issue], list[Issue]]:
    """The errors and warnings of one unit's form. `previous` is its last period's values,
    `sibling_values` the figures of the other units under the same parent.

    Counts from the information system carry no signature (`require_signature=False`).
    """
    warnings: list[Issue] = []
    get = values.get  # check runs once per row of a 60,000-row import: one plain loop
    labels, too_large, missing = {}, [], []
    for i in indicators:
        key = i.key
        labels[key] = i.label
        part = get(key)
        if part is None:
            if submit:
                missing.append(Issue(key, f"请填写{i.label}"))
            continue
        total = get(i.part_of) if i.part_of else None
        if total is not None and part > total:
            too_large.append(Issue(key, f"{i.label}（{part:,}）不能大于{_label(indicators, i.part_of)}（{total:,}）"))
    errors = too_large + missing
    errors.extend(_filer_errors(filer.get("name") or "", filer.get("phone") or "", filer.get("head") or "",
                                signed=submit and require_signature))

    warnings.extend(consistency_warnings(labels, values))
    enrolled, should = values.get(RATE_NUMERATOR), values.get(RATE_DENOMINATOR)
    if enrolled is not None and should and enrolled > should:
        warnings.append(Issue(RATE_NUMERATOR, f"参保率超过100%（已参保{enrolled:,}人，应参保{should:,}人），请核实"))
    if previous:
        before = previous.get(RATE_NUMERATOR)
        if enrolled is not None and before is not None and enrolled < before:
            warnings.append(Issue(RATE_NUMERATOR, f"{_label(indicators, RATE_NUMERATOR)}比上期减少{before - enrolled:,}人"
                                                  f"（上期{before:,}人），累计数一般不应下降"))
        before_should = previous.get(RATE_DENOMINATOR)
        if should is not None and before_should is not None and should != before_should:
            warnings.append(Issue(RATE_DENOMINATOR, f"{_label(indicators, RATE_DENOMINATOR)}与上期不同"
                                                    f"（上期{before_should:,}人，本期{should:,}人）"))
        if enrolled is not None and before is not None and sibling_increases:
            jump = jump_warning(enrolled - before, sibling_increases)
            if jump:
                warnings.append(Issue(RATE_NUMERATOR, jump))
        warnings.extend(history_outliers(labels, values, previous))
    if sibling_values:
        warnings.extend(sibling_outliers(labels, values, sibling_values))
    return errors, warnings


def consistency_warnings(labels: dict[str, str], values: dict[str, Optional[int]]) -> list[Issue]:
    """应参保 above 常住人口, and 困难群众已参保 above 困难群众应参保 (the roster changed)."""
    found = []
    population, should = values.get(POPULATION), values.get(RATE_DENOMINATOR)
    if population is not None and should is not None and should > population and POPULATION in labels:
        found.append(Issue(RATE_DENOMINATOR, f"{labels[RATE_DENOMINATOR]}（{should:,}）大于"
                                             f"{labels[POPULATION]}（{population:,}），请核实"))
    hardship_should, hardship_enrolled = values.get(HARDSHIP_SHOULD), values.get(HARDSHIP_ENROLLED)
    if hardship_should is not None and hardship_enrolled is not None and hardship_enrolled > hardship_should:
        found.append(Issue(HARDSHIP_ENROLLED, f"{labels.get(HARDSHIP_ENROLLED, '困难群众已参保人数')}"
                                              f"（{hardship_enrolled:,}）大于{labels.get(HARDSHIP_SHOULD, '困难群众应参保人数')}"
                                              f"（{hardship_should:,}），困难群众名单可能已变动，请核实名单"))
    # a department's own group (X_enrolled beside X_should) is held to the same rule as 应参保/已参保
    for key in labels:
        if not key.endswith(ENROLLED_SUFFIX) or key == HARDSHIP_ENROLLED:
            continue
        should_key = key.removesuffix(ENROLLED_SUFFIX) + SHOULD_SUFFIX
        enrolled, should = values.get(key), values.get(should_key)
        if should_key in labels and enrolled is not None and should and enrolled > should:
            found.append(Issue(key, f"{labels[key]}（{enrolled:,}）大于{labels[should_key]}（{should:,}），"
                                    "超过100%，请核实"))
    return found


def _far(value: int, reference: int) -> bool:
    return value > FAR_FACTOR * reference and value - reference > FAR_MARGIN


def history_outliers(labels: dict[str, str], values: dict[str, Optional[int]],
                     previous: dict[str, Optional[int]]) -> list[Issue]:
    """A value far outside the unit's own last period: ten times more, or a tenth."""
    found = []
    for key, label in labels.items():
        value, before = values.get(key), previous.get(key)
        if value is None or not before:
            continue
        big, small = (value, before) if value > before else (before, value)  # counts: never negative
        if big > FAR_FACTOR * small and big - small > FAR_MARGIN:  # _far, inlined: 8 times a row
            found.append(Issue(key, f"{label}（{value:,}）与本单位上期（{before:,}）相差过大，请核实是否录错"))
    return found


def sibling_outliers(labels: dict[str, str], values: dict[str, Optional[int]],
                     siblings: list[dict[str, Optional[int]]]) -> list[Issue]:
    """A value far above every sibling's (three at least): e.g. a village of 99,999,999 people."""
    found = []
    for key, label in labels.items():
        others = [v for v in (s.get(key) for s in siblings) if v is not None]
        issue = sibling_outlier(key, label, values.get(key), max(others, default=0), len(others))
        if issue:
            found.append(issue)
    return found


def sibling_outlier(key: str, label: str, value: Optional[int], highest: int, siblings: int) -> Optional[Issue]:
    """The rule of `sibling_outliers` for one value, given the largest of its siblings' and how many."""
    if value is None or siblings < 3 or not _far(value, max(highest, 1)):
        return None
    return Issue(key, f"{label}（{value:,}）远超同级单位（最高{highest:,}），请核实是否录错")


def too_long(label: str, text: Optional[str], limit: int) -> Optional[str]:
    """Why a free text is refused for its length, in Chinese, or None: the one wording of every limit."""
    if text and len(text) > limit:
        return f"{label}过长（{len(text):,}字，最多{limit}字）"
    return None


def _label(indicators, key: str) -> str:
    """An indicator's label, for a message (most rows need none, so no table of them per row)."""
    return next(i.label for i in indicators if i.key == key)


@functools.lru_cache(maxsize=1024)
def _filer_errors(*values: str, signed: bool) -> tuple[Issue, ...]:
    """The errors of a footer (填表人, 联系电话, 单位负责人 in FILER_FIELDS' order); `signed`: each is
    required. Remembered: the rows of a bulk import share one footer."""
    filer = dict(zip(FILER_FIELDS, values))
    errors = []
    for key, label in FILER_FIELDS.items():
        if signed and not filer[key].strip():
            errors.append(Issue(f"filer.{key}", f"请填写{label}"))
    phone = filer["phone"].strip().replace(" ", "")
    if phone and not PHONE.match(phone):
        errors.append(Issue("filer.phone", f"联系电话“{_shorten(phone)}”不是有效的手机或固定电话号码"))
    for key, label in FILER_FIELDS.items():
        if len(filer[key]) > FILER_LIMITS[key]:
            errors.append(Issue(f"filer.{key}", f"{label}过长（最多{FILER_LIMITS[key]}字）"))
        if CONTROL.search(filer[key]):
            errors.append(Issue(f"filer.{key}", f"{label}含有不可见的控制字符"))
    return tuple(errors)


def reason_errors(reason: Optional[str]) -> list[Issue]:
    """The reason given for a correction is kept in the revision history: plain text only."""
    if reason and not isinstance(reason, str):
        return [Issue("reason", "修改原因应为文字")]
    if too_long("修改原因", reason, REASON_LIMIT):
        return [Issue("reason", too_long("修改原因", reason, REASON_LIMIT))]
    if reason and CONTROL.search(reason):
        return [Issue("reason", "修改原因含有不可见的控制字符")]
    return []


def jump_warning(increase: int, sibling_increases: list[int]) -> Optional[str]:
    """A warning when an increase is far above what the unit's siblings gained in the same period."""
    positive = [i for i in sibling_increases if i > 0]
    if len(positive) < 3 or increase <= 0:
        return None
    return jump_message(increase, statistics.median(positive))


def jump_message(increase: int, median: float) -> Optional[str]:
    """jump_warning's verdict, given the median of the siblings' positive increases."""
    if increase > JUMP_FACTOR * median:
        return (f"本期新增{increase:,}人，超过同级单位新增中位数（{median:,.0f}人）的{JUMP_FACTOR}倍，"
                "请核实是否多录")
    return None
