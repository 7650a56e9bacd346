"""信息系统数据: the 医保信息系统's figures of a period, imported beside the typed reports, and the gap."""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from sqlalchemy import and_, delete, insert, select

from reporting import audit, clock, versions
from reporting.extensions import db
from reporting.indicators import RATE_NUMERATOR
from reporting.models import LEVEL_NAMES, LEVELS, Campaign, Period, Region, Report, SystemFigure, User
from reporting.regions.hierarchy import descendants_at
from reporting.sql import among
from reporting.tables import ImportRejected, RowIssue, rows_from_table
from reporting.validation import check, parse_values

#: the column naming the export's data day, and the one naming the period (for `watch`)
DATE_HEADING, PERIOD_HEADING = "数据日期", "期次"
BASES = {"reported": "以填报数据为准", "system": "以信息系统数据为准"}


@dataclass
class SystemFigures:
    """What the information system says of one unit for one period."""
    totals: dict[str, int]
    #: 数据日期 (None when the file gave none)
    at: Optional[dt.date] = None

    def as_json(self) -> dict:
        return {"totals": self.totals, "at": self.at.isoformat() if self.at else None}


@dataclass
class SystemImport:
    """What an import of system figures did."""
    #: rows of the file
    rows: int = 0
    #: units stored: the rows' own and the units above them that got the sum of their rows
    units: int = 0
    summed: int = 0
    #: the rows that replaced an earlier import of the period (0 for a first import)
    replaced: int = 0
    warnings: list[RowIssue] = field(default_factory=list)
    at: Optional[dt.date] = None


# --- the gap -------------------------------------------------------------------------------------

def gap(reported: dict[str, Optional[int]], system: Optional[SystemFigures]) -> Optional[dict[str, int]]:
    """填报 − 系统, key by key where both have a figure; None without system figures or typed ones."""
    if system is None:
        return None
    found = {key: reported[key] - value for key, value in system.totals.items()
             if reported.get(key) is not None and value is not None}
    return found or None


def beyond_threshold(campaign: Campaign, difference: Optional[int], system_value: Optional[int]) -> bool:
    """A gap is flagged when it is beyond both the campaign's share of the system's figure and its
    number of people (by default 2% and 50 people), whichever way it runs."""
    if difference is None or system_value is None:
        return False
    return abs(difference) > campaign.system_people and abs(difference) > float(campaign.system_share) * system_value


def mismatch(campaign: Campaign, reported: dict, system: Optional[SystemFigures]) -> Optional[int]:
    """The gap of 已参保 when it is beyond the threshold (填报 − 系统), else None."""
    found = gap(reported, system) or {}
    difference = found.get(RATE_NUMERATOR)
    if beyond_threshold(campaign, difference, system.totals.get(RATE_NUMERATOR) if system else None):
        return difference
    return None


def mismatch_text(difference: int) -> str:
    """The flag the dashboard, the grid, the review page and the XLSX print: 与信息系统相差N人."""
    return f"与信息系统相差{abs(difference):,}人"


def merged(typed: dict[str, int], system: Optional[SystemFigures]) -> dict[str, int]:
    """A unit's figures on the basis `system`: each key from the system where it has one, typed elsewhere."""
    if system is None:
        return typed
    return {**typed, **{k: v for k, v in system.totals.items() if v is not None}}


# --- reading -------------------------------------------------------------------------------------

def figures_for(periods: list[Period], region_ids: list[int]) -> dict[tuple[int, int], SystemFigures]:
    """The system figures of these units for these periods, by (region id, period id): one indexed
    lookup (the sums of units above the file's rows were stored at import)."""
    if not periods or not region_ids:
        return {}
    rows = db.session.execute(
        select(SystemFigure.region_id, SystemFigure.period_id, SystemFigure.values, SystemFigure.at)
        .where(among(SystemFigure.period_id, [p.id for p in periods]), among(SystemFigure.region_id, region_ids)))
    return {(rid, pid): SystemFigures({k: int(v) for k, v in (values or {}).items()}, at)
            for rid, pid, values, at in rows}


def unit_gaps(period: Period, region: Region) -> dict[int, tuple[int, int]]:
    """The report-level units under `region` whose typed 已参保 (their report as it stands) differs
    from the system's beyond the campaign's threshold: region id -> (typed, system). One query."""
    campaign = period.campaign
    enrolled = next((i for i in campaign.indicators if i.key == RATE_NUMERATOR), None)
    if enrolled is None:
        return {}
    units = descendants_at(region, campaign.report_level).with_only_columns(Region.id)
    rows = db.session.execute(
        select(SystemFigure.region_id, SystemFigure.values, getattr(Report, f"v{enrolled.slot}"))
        .join(Report, and_(Report.region_id == SystemFigure.region_id, Report.period_id == period.id))
        .where(SystemFigure.period_id == period.id, SystemFigure.region_id.in_(units)))
    found = {}
    for region_id, values, typed in rows:
        system = (values or {}).get(RATE_NUMERATOR)
        if typed is not None and system is not None and beyond_threshold(campaign, typed - system, system):
            found[region_id] = (typed, system)
    return found


def with_figures(period_ids: list[int]) -> set[int]:
    """Which of these periods have system figures: one query."""
    if not period_ids:
        return set()
    return set(db.session.scalars(select(SystemFigure.period_id).distinct()
                                  .where(SystemFigure.period_id.in_(period_ids))))


# --- importing -----------------------------------------------------------------------------------

DATE_FORMS = (re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"), re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日?"),
              re.compile(r"(\d{4})(\d{2})(\d{2})"))


def parse_date(cell: Any) -> Optional[dt.date]:
    """A 数据日期 cell: a date of the workbook, 2022-12-14, 2022/12/14, 2022年12月14日 or 20221214.
    Raises ValueError for anything else; None for a blank cell."""
    if cell is None or cell == "":
        return None
    if isinstance(cell, dt.datetime):
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    text = str(cell).strip()
    for form in DATE_FORMS:
        found = form.fullmatch(text.split(" ")[0])
        if found:
            return dt.date(*map(int, found.groups()))
    raise ValueError(text)


def _column(header: list[str], name: str) -> Optional[int]:
    heads = [str(h or "").replace(" ", "") for h in header]
    return heads.index(name) if name in heads else None


def period_in_table(header: list[str], body: list[tuple[int, list]]) -> Optional[int]:
    """The period id a 期次 column names (the same on every row), or None without the column."""
    at = _column(header, PERIOD_HEADING)
    if at is None:
        return None
    named = {str(cells[at]).strip().removesuffix(".0") for _, cells in body if at < len(cells) and cells[at] not in (None, "")}
    if len(named) != 1 or not next(iter(named)).isdigit():
        raise ImportRejected([RowIssue(None, "", None, "“期次”列应在每一行填写同一个期次编号")])
    return int(named.pop())


def import_figures(period: Period, header: list[str], body: list[tuple[int, list]], *,
                   user: Optional[User] = None, source: Optional[dict] = None,
                   progress: Optional[Callable[[int], None]] = None) -> SystemImport:
    """Store the system's figures of `period` from a table (单位代码, indicator columns by key or
    Chinese name, optionally 数据日期), replacing any earlier import of the period: all or nothing.

    Rows may name units at any level from the report level up to the campaign's root. A unit above
    the rows gets the sum of the units below it; a unit with its own row keeps it, and a sum of its
    lower rows that disagrees is a warning. Checks and messages are `reports import`'s."""
    campaign = period.campaign
    indicators = campaign.indicators
    named = period_in_table(header, body)
    if named is not None and named != period.id:
        raise ImportRejected([RowIssue(None, "", None, f"文件的“期次”列为{named}，不是要导入的期次{period.id}"
                                                       f"（{period.label}）")])
    rows = rows_from_table(indicators, header, body)
    lines = dict(body)
    date_at = _column(header, DATE_HEADING)
    root, deepest = campaign.root, LEVELS.index(campaign.report_level)
    codes = sorted({code for _, code, _, _ in rows if code})
    regions = {}
    for chunk in range(0, len(codes), 5000):
        part = codes[chunk:chunk + 5000]
        regions.update({r.code: r for r in db.session.scalars(select(Region).where(Region.code.in_(part)))})
    errors: list[RowIssue] = []
    outcome = SystemImport(rows=len(rows))
    own: dict[int, dict[str, int]] = {}
    dates: dict[int, Optional[dt.date]] = {}
    seen: dict[str, int] = {}
    for n, (line, code, raw, _) in enumerate(rows, 1):
        if progress and n % 500 == 0:
            progress(500)
        if not code:
            errors.append(RowIssue(line, "", None, "缺少单位代码"))
            continue
        region = regions.get(code)
        if region is None or not root.contains(region):
            errors.append(RowIssue(line, "", None, f"单位代码 {code} 不是本征缴期的单位"))
            continue
        if region.depth > deepest:
            errors.append(RowIssue(line, code, None, f"单位代码 {code} 低于本征缴期的填报层级"
                                                     f"（{LEVEL_NAMES[campaign.report_level]}）"))
            continue
        if code in seen:
            errors.append(RowIssue(line, "", None, f"单位代码 {code} 与第{seen[code]}行重复"))
            continue
        seen[code] = line
        values, problems = parse_values(indicators, raw)
        rule_errors, row_warnings = check(indicators, values, {}, submit=False, require_signature=False)
        errors.extend(RowIssue(line, code, e.field, e.message) for e in problems + rule_errors)
        outcome.warnings.extend(RowIssue(line, code, w.field, w.message) for w in row_warnings)
        if date_at is not None:
            cells = lines.get(line, [])
            try:
                dates[region.id] = parse_date(cells[date_at] if date_at < len(cells) else None)
            except ValueError:
                errors.append(RowIssue(line, code, None, f"数据日期应为日期（如 2022-12-14），“{cells[date_at]}”不是日期"))
        own[region.id] = {k: v for k, v in values.items() if v is not None}
    if progress and len(rows) % 500:
        progress(len(rows) % 500)
    if errors:
        raise ImportRejected(errors)
    if not own:
        raise ImportRejected([RowIssue(None, "", None, "文件中没有数据")])
    figures, parents, summed_from = _roll_up(campaign, [r for r in regions.values() if r.id in own], own, dates)
    names = {r.id: r for r in regions.values()}
    labels = {i.key: i.label for i in indicators}
    for region_id, sums in summed_from.items():
        mine = own.get(region_id)
        if mine is None:
            continue
        for key, total in sums.items():
            if key in mine and mine[key] != total:
                region = names[region_id]
                outcome.warnings.append(RowIssue(None, region.code, key,
                                                 f"{region.name}（{region.code}）的{labels[key]}为{mine[key]:,}人，"
                                                 f"其下级单位合计{total:,}人，不一致，以本单位的数为准"))
    # two imports of one period (two watchers, two files) replace the figures one after the other
    db.session.execute(select(Period.id).where(Period.id == period.id).with_for_update())
    outcome.replaced = db.session.execute(delete(SystemFigure).where(SystemFigure.period_id == period.id)).rowcount
    now = clock.now()
    # without a 数据日期 the figures describe the period's own day
    db.session.execute(insert(SystemFigure), [
        dict(period_id=period.id, region_id=region_id, parent_id=parents.get(region_id), values=values,
             at=dates.get(region_id) or period.as_of, own=region_id in own, imported_at=now)
        for region_id, values in figures.items()])
    outcome.units, outcome.summed = len(figures), len(figures) - len(own)
    outcome.at = max((d for d in dates.values() if d), default=period.as_of)
    audit.record("system_figures.import", user, region=root, target=f"{period.label} 信息系统数据",
                 after={"period": period.id, **(source or {}), "rows": outcome.rows, "units": outcome.units,
                        "replaced": outcome.replaced, "warnings": len(outcome.warnings)})
    versions.bump_all(campaign)
    return outcome


def _roll_up(campaign: Campaign, found: list[Region], own: dict[int, dict[str, int]],
             dates: dict[int, Optional[dt.date]]):
    """Every unit from the rows' units up to the campaign's root: its own row, else the sum of its
    children's figures, level by level from the lowest. Returns (figures, parent ids, the children's
    sums of the units that have a row of their own)."""
    root = campaign.root
    parents = {r.id: r.parent_id for r in found}
    depth = {r.id: r.depth for r in found}
    # the ancestors between the rows' units and the root, from the ids each unit stores
    wanted = set()
    for r in found:
        for level in LEVELS[root.depth:r.depth]:
            ancestor = r.ancestor_id(level)
            if ancestor is not None and ancestor not in parents:
                wanted.add(ancestor)
    wanted = sorted(wanted)
    for chunk in range(0, len(wanted), 5000):
        part = wanted[chunk:chunk + 5000]
        for r in db.session.scalars(select(Region).where(Region.id.in_(part))):
            parents[r.id], depth[r.id] = r.parent_id, r.depth
    figures: dict[int, dict[str, int]] = {}
    sums: dict[int, dict[str, int]] = {}
    for region_id in sorted(parents, key=lambda i: -depth[i]):
        mine = own.get(region_id, sums.get(region_id))
        if mine is None:
            continue
        figures[region_id] = mine
        parent = parents[region_id]
        if region_id != root.id and parent in parents:
            total = sums.setdefault(parent, {})
            for key, value in mine.items():
                total[key] = total.get(key, 0) + value
            if dates.get(region_id) and parent not in own:  # a sum is as recent as its latest part
                dates[parent] = max(filter(None, (dates.get(parent), dates[region_id])))
    return figures, {k: v for k, v in parents.items() if k in figures}, \
        {k: v for k, v in sums.items() if k in own}


def set_basis(campaign: Campaign, basis: str, user: Optional[User] = None) -> None:
    if basis not in BASES:
        raise ValueError(f"口径应为 reported 或 system，而不是 {basis}")
    before = campaign.basis
    campaign.basis = basis
    audit.record("campaign.update", user, region=campaign.root, target=f"征缴期 {campaign.id} 口径",
                 before={"basis": before}, after={"basis": basis})
    versions.bump_all(campaign)


def set_threshold(campaign: Campaign, share: float, people: int, user: Optional[User] = None) -> None:
    if not 0 <= share < 1:
        raise ValueError("--share 应在0到1之间（如 0.02 表示2%）")
    if people < 0:
        raise ValueError("--people 不能为负数")
    before = {"system_share": float(campaign.system_share), "system_people": campaign.system_people}
    campaign.system_share, campaign.system_people = share, people
    audit.record("campaign.update", user, region=campaign.root, target=f"征缴期 {campaign.id} 与信息系统差异阈值",
                 before=before, after={"system_share": share, "system_people": people})
    versions.bump_all(campaign)


# --- a folder watched for the system's exports -----------------------------------------------------

#: the file name an export job gives: the period's id, an underscore, anything (12_朱集镇.csv)
WATCHED_NAME = re.compile(r"^(\d+)_.*\.(csv|xlsx)$", re.IGNORECASE)
CLAIM, DONE, FAILED = ".claimed", "done", "failed"


def claim_files(directory: str) -> list[str]:
    """Take the new .csv and .xlsx files of `directory`, each by an atomic rename into its claim
    folder: of several instances watching the folder, one takes each file (the others' rename fails)."""
    if not os.path.isdir(directory):
        raise ValueError(f"目录不存在：{directory}")
    claims = os.path.join(directory, CLAIM)
    for folder in (claims, os.path.join(directory, DONE), os.path.join(directory, FAILED)):
        os.makedirs(folder, exist_ok=True)
    taken = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        # a name starting with a dot is a file still being written (rename it when complete)
        if name.startswith(".") or not name.lower().endswith((".csv", ".xlsx")) or not os.path.isfile(path):
            continue
        try:
            os.rename(path, os.path.join(claims, name))
        except (FileNotFoundError, PermissionError):
            continue  # another instance took it first
        taken.append(os.path.join(claims, name))
    return taken


def watched_period(path: str, header: list[str], body: list[tuple[int, list]]) -> Period:
    """The period a dropped file is for: its 期次 column, else its name (期次ID_….csv)."""
    period_id = period_in_table(header, body)
    if period_id is None:
        named = WATCHED_NAME.match(os.path.basename(path))
        if named is None:
            raise ImportRejected([RowIssue(None, "", None, "无法确定期次：文件中没有“期次”列，"
                                                           "文件名也不是“期次编号_名称.csv/.xlsx”的形式")])
        period_id = int(named.group(1))
    period = db.session.get(Period, period_id)
    if period is None:
        raise ImportRejected([RowIssue(None, "", None, f"报送期次 {period_id} 不存在")])
    return period


def file_away(path: str, outcome: Optional[SystemImport], problems: list[str]) -> str:
    """Move a claimed file to done/ (imported) or to failed/ with a .log beside it saying why, in
    Chinese; a name already there gets the time appended. Returns the new path."""
    directory = os.path.dirname(os.path.dirname(path))
    folder = os.path.join(directory, DONE if outcome is not None else FAILED)
    name = os.path.basename(path)
    target = os.path.join(folder, name)
    if os.path.exists(target):
        stem, ext = os.path.splitext(name)
        target = os.path.join(folder, f"{stem}.{clock.now():%Y%m%d%H%M%S%f}{ext}")
    os.replace(path, target)
    if outcome is None:
        with open(target + ".log", "w", encoding="utf-8") as log:
            log.write(f"{clock.now():%Y-%m-%d %H:%M:%S} 导入失败：{name}\n")
            log.writelines(f"{line}\n" for line in problems)
    return target
