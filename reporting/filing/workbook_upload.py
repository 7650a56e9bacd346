"""An uploaded 进度表 before and after its import: whose form it is, its carried values, what it changed."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import select

from reporting.extensions import db
from reporting.filing.carry import CARRIED_KEYS
from reporting.models import Region


def foreign_form(region: Region, codes: list[str]) -> Optional[str]:
    """One refusal when none of a file's units lies in `region` (a form of another county), naming
    whose units they are; None when some do, so that row errors then point at each stray row."""
    codes = [c for c in dict.fromkeys(codes) if c][:5000]
    if not codes:
        return None
    found = db.session.scalars(select(Region).where(Region.code.in_(codes))).all()
    if any(region.contains(unit) for unit in found):
        return None
    owner_ids = {unit.ancestor_id(region.level) for unit in found} - {None}
    owners = db.session.scalars(select(Region.name).where(Region.id.in_(owner_ids)).order_by(Region.code)).all()
    if owners:
        whose = "、".join(owners[:3]) + ("等地" if len(owners) > 3 else "")
        return (f"这是{whose}的进度表（{len(codes)}个单位），不是{region.name}的，未导入任何数据。"
                f"请下载{region.name}的进度表填写后上传。")
    return (f"文件中的{len(codes)}个单位代码都不是{region.name}的单位，未导入任何数据。"
            f"请下载{region.name}的进度表填写后上传。")


def _blank(cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def carry_rows(rows: list[tuple[int, str, dict]], carried: dict[str, dict[str, int]]) -> list[tuple[int, str, dict]]:
    """The rows to import: a blank carried cell takes the unit's last submitted value (as the grid
    shows it), and a row that holds nothing but carried values is left out, as not filled in yet."""
    kept = []
    for line, code, raw in rows:
        last = carried.get(code, {})
        raw = {key: last[key] if key in last and _blank(cell) else cell for key, cell in raw.items()}
        typed = [key for key, cell in raw.items() if not _blank(cell)
                 and not (key in CARRIED_KEYS and key in last and _same(cell, last[key]))]
        if typed:
            kept.append((line, code, raw))
    return kept


def _same(cell, value: int) -> bool:
    try:
        return int(str(cell).replace(",", "").strip()) == value if not isinstance(cell, float) else cell == value
    except ValueError:
        return False


def outcome_message(outcome) -> str:
    """What an import did, in the words of the units it touched."""
    parts = []
    if outcome.corrected:
        parts.append(f"更正了{outcome.corrected}个已提交单位")
    if outcome.submitted:
        parts.append(f"提交了{outcome.submitted}个单位")
    if outcome.new_drafts:
        parts.append(f"新增草稿{outcome.new_drafts}个")
    updated_drafts = outcome.loaded - outcome.unchanged - outcome.corrected - outcome.submitted - outcome.new_drafts
    if updated_drafts:
        parts.append(f"修改草稿{updated_drafts}个")
    if outcome.unchanged:
        parts.append(f"{outcome.unchanged}个单位与系统中一致，未改动")
    if not parts:
        return "文件中没有已填写的单位，未导入任何数据"
    return "上传完成：" + "，".join(parts)
