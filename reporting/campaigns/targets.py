"""Loading a 任务分解表 (the task split by unit) for a campaign, all or nothing."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from reporting import audit, versions
from reporting.extensions import db
from reporting.models import LEVELS, Campaign, Department, Region, Target
from reporting.regions.hierarchy import descendants_at, name_index
from reporting.spreadsheets import parse_count, read_table

#: accepted headings for each column; the first is the official one
COLUMNS = {
    "code": ("单位代码", "区划代码", "代码"),
    "name": ("单位名称", "名称", "村名", "单位", "镇街", "地区"),
    "task": ("任务数", "目标任务数", "任务"),
    "population": ("常住人口数", "人口数", "村人口数", "常住人口"),
    "should_enroll": ("应参保人数", "居民医保应参保人数"),
}
TOTAL_ROWS = {"合计", "总计", "小计", "全镇合计", "全县合计", "全市合计"}


class TargetImportError(ValueError):
    """The table cannot be loaded; `errors` lists every problem, the message the first ones."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        more = f"（另有{len(errors) - 3}处错误）" if len(errors) > 3 else ""
        super().__init__("；".join(errors[:3]) + more)


@dataclass
class TargetImportResult:
    loaded: int = 0
    warnings: list[str] = field(default_factory=list)


def _columns(header: list[str]) -> dict[str, int]:
    found = {}
    for key, names in COLUMNS.items():
        for n, heading in enumerate(header):
            if heading.replace(" ", "") in names:
                found[key] = n
                break
    if "task" not in found:
        raise TargetImportError([f"表头中没有“任务数”列（表头为：{'、'.join(h for h in header if h)}）"])
    if "code" not in found and "name" not in found:
        raise TargetImportError(["表头中没有“单位代码”或“单位名称”列"])
    return found


def import_targets(campaign: Campaign, path_or_bytes, filename: str | None = None) -> TargetImportResult:
    """Match every row to a unit under the campaign root and store its task, or store nothing."""
    header, rows = read_table(path_or_bytes, filename)
    at = _columns(header)
    root = campaign.root
    units = {r.id: r for r in _units_under(root)}
    by_code = {r.code: r for r in units.values()}
    by_name = name_index((r.id, r.name) for r in units.values())

    # a department's row (区民政局) is matched by its name, or the code its workbook gives it (BM2);
    # its task is never summed into a unit's
    departments = {key: d for d in db.session.scalars(select(Department).where(
        Department.campaign_id == campaign.id)) for key in (d.name, f"BM{d.id}")}
    department_tasks: dict[int, int] = {}

    errors: list[str] = []
    parsed: dict[int, dict] = {}
    stated_total = None
    for line, cells in rows:
        cell = lambda key: cells[at[key]] if key in at and at[key] < len(cells) else None  # noqa: E731
        code = str(cell("code") or "").strip()
        name = str(cell("name") or "").strip()
        if not code and any(str(c).replace(" ", "") in TOTAL_ROWS for c in cells if c is not None):
            stated_total = _count(cell("task"), line, "任务数", errors)
            continue
        department = departments.get(code or name)
        if department is not None:
            if department.id in department_tasks:
                errors.append(f"第{line}行：{department.name}重复出现")
            department_tasks[department.id] = _count(cell("task"), line, "任务数", errors)
            continue
        if code:
            region = by_code.get(code)
            if region is None:
                errors.append(f"第{line}行：单位代码 {code} 不在{root.name}范围内")
                continue
        elif name:
            matches = by_name.get(name, [])
            if not matches:
                errors.append(f"第{line}行：在{root.name}下找不到名为“{name}”的单位")
                continue
            if len(matches) > 1:
                where = "、".join(sorted(units[m].code for m in matches)[:5])
                errors.append(f"第{line}行：“{name}”在{root.name}下对应{len(matches)}个单位"
                              f"（{where}），请改用单位代码")
                continue
            region = units[matches[0]]
        else:
            errors.append(f"第{line}行：没有单位代码或单位名称")
            continue
        if region.id in parsed:
            errors.append(f"第{line}行：{region.name}（{region.code}）重复出现")
            continue
        task = _count(cell("task"), line, "任务数", errors)
        values = {"task": task}
        for key, label in (("population", "常住人口数"), ("should_enroll", "应参保人数")):
            if key in at:
                values[key] = _count(cell(key), line, label, errors, required=False)
        parsed[region.id] = values
    if not parsed and not department_tasks and not errors:
        errors.append("表中没有任何单位的任务数")
    if errors:
        raise TargetImportError(errors)

    existing = {t.region_id: t for t in db.session.scalars(
        select(Target).where(Target.campaign_id == campaign.id))}
    for region_id, values in parsed.items():
        target = existing.get(region_id)
        if target is None:
            target = existing[region_id] = Target(campaign_id=campaign.id, region_id=region_id)
            db.session.add(target)
        for key, value in values.items():
            setattr(target, key, value)
    named = {d.id: d for d in departments.values()}
    for department_id, task in department_tasks.items():
        named[department_id].task = task
    db.session.flush()
    versions.bump_all(campaign)  # 任务数 move every 完成率
    audit.record("targets.import", None, region=root, target=f"征缴期 {campaign.id} 任务分解表",
                 after={**{units[rid].code: values["task"] for rid, values in parsed.items()},
                        **{f"部门 {named[i].name}": task for i, task in department_tasks.items()}})
    result = TargetImportResult(loaded=len(parsed) + len(department_tasks))
    result.warnings = sum_warnings(existing.values(), units)
    listed = sum(v["task"] for v in parsed.values())
    if stated_total is not None and stated_total != listed:
        result.warnings.append(f"表中“合计”为{stated_total:,}，而各行任务数之和为{listed:,}")
    return result


def _units_under(root: Region) -> list[Region]:
    units = [root]
    for level in LEVELS[LEVELS.index(root.level) + 1:]:
        units.extend(db.session.scalars(descendants_at(root, level)))
    return units


def _count(value, line: int, label: str, errors: list[str], required: bool = True):
    try:
        count = parse_count(value)
    except ValueError:
        errors.append(f"第{line}行：{label}“{value}”不是整数")
        return None
    if count is None and required:
        errors.append(f"第{line}行：缺少{label}")
    elif count is not None and count < 0:
        errors.append(f"第{line}行：{label}不能为负数")
    return count


def sum_warnings(targets, units: dict[int, Region]) -> list[str]:
    """Warnings for parents whose children's tasks do not add up to their own."""
    by_region = {t.region_id: t.task for t in targets}
    child_sums: dict[int, int] = defaultdict(int)
    child_counts: dict[int, int] = defaultdict(int)
    for region_id, task in by_region.items():
        parent_id = units[region_id].parent_id if region_id in units else None
        if parent_id in by_region:
            child_sums[parent_id] += task
            child_counts[parent_id] += 1
    warnings = []
    for parent_id, total in child_sums.items():
        if total != by_region[parent_id]:
            parent = units[parent_id]
            warnings.append(f"{parent.name}的任务数为{by_region[parent_id]:,}，"
                            f"而其{child_counts[parent_id]}个下级单位的任务数合计为{total:,}")
    return warnings
