"""The region tree: loading the statistical division files, and questions about the tree."""
from __future__ import annotations

import csv
import gzip
import io
import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from sqlalchemy import bindparam, func, select, union_all, update
from sqlalchemy.orm import aliased

from reporting.bulk import insert_rows
from reporting.extensions import db
from reporting.models import CODE_LENGTHS, LEVELS, Region

#: file name, level, and the column naming the parent's code
DIVISION_FILES = (
    ("provinces.csv", "province", None),
    ("cities.csv", "city", "provinceCode"),
    ("areas.csv", "county", "cityCode"),
    ("streets.csv", "township", "areaCode"),
    ("villages.csv", "village", "streetCode"),
)
ANCESTOR_LEVELS = LEVELS[:-1]  # a village is nobody's ancestor
BATCH = 5000


class DivisionFileError(ValueError):
    """A division file that cannot be read; the message is one line naming the file and row."""


@dataclass
class ImportResult:
    added: int = 0
    renamed: int = 0
    moved: int = 0
    unchanged: int = 0
    #: rows whose parent is neither in the files nor in the database: (file, line, code, name)
    unplaced: list[tuple[str, int, str, str]] = field(default_factory=list)


def _open_division_file(directory: str, name: str) -> Optional[tuple[str, io.TextIOBase]]:
    plain = os.path.join(directory, name)
    if os.path.exists(plain):
        return name, open(plain, encoding="utf-8-sig", newline="")
    if os.path.exists(plain + ".gz"):
        return name + ".gz", io.TextIOWrapper(gzip.open(plain + ".gz"), encoding="utf-8-sig",
                                              newline="")
    return None


def _read_level(label: str, stream: io.TextIOBase, level: str,
                parent_column: Optional[str]) -> list[tuple[int, str, str, Optional[str]]]:
    """Parse one file into (line, code, name, parent_code) rows, or stop at the first bad row."""
    rows = []
    try:
        reader = csv.reader(stream)
        header = next(reader, None)
        if header is None:
            raise DivisionFileError(f"{label}：文件为空")
        header = [h.strip() for h in header]
        needed = ["code", "name"] + ([parent_column] if parent_column else [])
        missing = [c for c in needed if c not in header]
        if missing:
            raise DivisionFileError(f"{label}：缺少列 {', '.join(missing)}（表头为 {','.join(header)}）")
        at = {c: header.index(c) for c in needed}
        width = CODE_LENGTHS[level]
        parent_width = CODE_LENGTHS[LEVELS[LEVELS.index(level) - 1]] if parent_column else 0
        for line, row in enumerate(reader, start=2):
            if not row or row == [""]:
                continue
            if len(row) != len(header):
                raise DivisionFileError(f"{label} 第{line}行：应有{len(header)}列，实有{len(row)}列")
            code, name = row[at["code"]].strip(), row[at["name"]].strip()
            if not (code.isdigit() and len(code) == width):
                raise DivisionFileError(f"{label} 第{line}行：代码“{code}”不是{width}位数字")
            if not name:
                raise DivisionFileError(f"{label} 第{line}行：代码 {code} 没有名称")
            parent = None
            if parent_column:
                parent = row[at[parent_column]].strip()
                if not (parent.isdigit() and len(parent) == parent_width):
                    raise DivisionFileError(
                        f"{label} 第{line}行：上级代码“{parent}”不是{parent_width}位数字")
            rows.append((line, code, name, parent))
    except (UnicodeDecodeError, EOFError, OSError, csv.Error) as error:
        raise DivisionFileError(f"{label}：无法读取（{type(error).__name__}: {error}）") from None
    finally:
        stream.close()
    return rows


def read_division_files(directory: str) -> dict[str, tuple[str, list]]:
    """Parse every division file present in `directory`: level -> (file label, rows)."""
    if not os.path.isdir(directory):
        raise DivisionFileError(f"{directory}：目录不存在")
    parsed = {}
    for name, level, parent_column in DIVISION_FILES:
        opened = _open_division_file(directory, name)
        if opened:
            label, stream = opened
            parsed[level] = (label, _read_level(label, stream, level, parent_column))
    if not parsed:
        raise DivisionFileError(f"{directory}：没有找到 provinces.csv、cities.csv、areas.csv、"
                                "streets.csv 或 villages.csv(.gz)")
    return parsed


def _in_subtree(code: str, parent: Optional[str], under: str, subtree: set[str]) -> bool:
    return code == under or parent in subtree


def import_divisions(directory: str, under: Optional[str] = None,
                     progress: Callable[[int], None] = lambda n: None,
                     total: Callable[[int], None] = lambda n: None) -> ImportResult:
    """Load division files into the region tree, idempotently, in the caller's transaction.

    New codes are added, changed names and parents are updated; nothing is deleted.
    A malformed file raises DivisionFileError before anything is written.
    """
    if under is not None and not (under.isdigit() and len(under) in CODE_LENGTHS.values()):
        raise DivisionFileError(f"--under {under}：不是2、4、6、9或12位的区划代码")
    parsed = read_division_files(directory)
    total(sum(len(rows) for _, rows in parsed.values()))

    result = ImportResult()
    # code -> (id, ancestor ids by level) for every unit that can be a parent
    known: dict[str, tuple[int, dict[str, Optional[int]]]] = {}
    ancestor_columns = [getattr(Region, f"{lvl}_id") for lvl in ANCESTOR_LEVELS]
    for row in db.session.execute(select(Region.code, Region.id, *ancestor_columns)
                                  .where(Region.level != "village")):
        known[row[0]] = (row[1], dict(zip(ANCESTOR_LEVELS, row[2:])))
    subtree: set[str] = set()

    for _, level, _ in DIVISION_FILES:
        if level not in parsed:
            continue
        label, rows = parsed[level]
        existing = {code: (rid, name, parent_id) for code, rid, name, parent_id in db.session.execute(
            select(Region.code, Region.id, Region.name, Region.parent_id).where(Region.level == level))}
        new_rows, changed = [], []
        for done, (line, code, name, parent_code) in enumerate(rows, start=1):
            if done % BATCH == 0:
                progress(BATCH)
            if under is not None:
                if _in_subtree(code, parent_code, under, subtree):
                    subtree.add(code)
                elif not under.startswith(code):
                    continue  # ancestors of `under` stay, so that the subtree hangs from the tree
            parent = known.get(parent_code) if parent_code else None
            if parent_code and parent is None:
                result.unplaced.append((label, line, code, name))
                continue
            values = {"name": name, "level": level, "parent_id": parent[0] if parent else None}
            values.update({f"{lvl}_id": (parent[1][lvl] if parent else None)
                           for lvl in ANCESTOR_LEVELS})
            if code not in existing:
                new_rows.append({"code": code, **values})
                continue
            rid, old_name, old_parent = existing[code]
            if old_name == name and old_parent == values["parent_id"]:
                result.unchanged += 1
                continue
            result.renamed += old_name != name
            result.moved += old_parent != values["parent_id"]
            changed.append({"b_id": rid, **values})
        progress(len(rows) % BATCH)
        insert_rows(Region.__table__, new_rows)
        result.added += len(new_rows)
        if changed:
            table = Region.__table__
            db.session.execute(update(table).where(table.c.id == bindparam("b_id"))
                               .values({k: bindparam(k) for k in changed[0] if k != "b_id"}),
                               changed)
        if level in ANCESTOR_LEVELS:
            own = getattr(Region, f"{level}_id")
            db.session.execute(update(Region).where(Region.level == level)
                               .where((own.is_(None)) | (own != Region.id))
                               .values({own: Region.id}), execution_options={"synchronize_session": False})
            if changed:
                _refresh_descendants(level)
            for row in db.session.execute(select(Region.code, Region.id, *ancestor_columns)
                                          .where(Region.level == level)):
                known[row[0]] = (row[1], dict(zip(ANCESTOR_LEVELS, row[2:])))
    if result.added or result.moved:
        refresh_unit_counts()
    db.session.flush()
    return result


#: the column of Region counting each level's units below a unit
COUNT_COLUMNS = {"county": "counties", "township": "townships", "village": "villages"}


def refresh_unit_counts() -> None:
    """Store on every unit how many counties, townships and villages lie below it: one GROUP BY
    per pair of levels, then one batched update of the units whose counts changed."""
    fresh: dict[int, dict[str, int]] = {}
    for level, column_name in COUNT_COLUMNS.items():
        for ancestor in LEVELS[:LEVELS.index(level)]:
            column = getattr(Region, f"{ancestor}_id")
            for rid, n in db.session.execute(select(column, func.count(Region.id))
                                             .where(Region.level == level, column.is_not(None))
                                             .group_by(column)):
                fresh.setdefault(rid, {})[column_name] = n
    names = list(COUNT_COLUMNS.values())
    changed = []
    for rid, *stored in db.session.execute(select(Region.id, *[getattr(Region, n) for n in names])
                                           .where(Region.level != "village")):
        counts = {n: fresh.get(rid, {}).get(n, 0) for n in names}
        if list(counts.values()) != stored:
            changed.append({"b_id": rid, **counts})
    table = Region.__table__
    statement = update(table).where(table.c.id == bindparam("b_id")).values({n: bindparam(n) for n in names})
    for start in range(0, len(changed), BATCH):
        db.session.execute(statement, changed[start:start + BATCH])


def _refresh_descendants(level: str) -> None:
    """After units of `level` moved, copy their ancestor ids down to everything below them."""
    depth = LEVELS.index(level)
    parent = db.aliased(Region)
    for child_level in LEVELS[depth + 1:]:
        values = {f"{lvl}_id": select(getattr(parent, f"{lvl}_id")).where(
            parent.id == Region.parent_id).scalar_subquery() for lvl in ANCESTOR_LEVELS[:depth + 1]}
        db.session.execute(update(Region).where(Region.level == child_level).values(values),
                           execution_options={"synchronize_session": False})


# --- questions about the tree -------------------------------------------------------------

def is_code(code) -> bool:
    """A code is up to 12 digits; anything else (a NUL byte from a URL, say) names nothing and never reaches SQL."""
    return isinstance(code, str) and code.isascii() and code.isdigit() and len(code) <= 12


def region_by_code(code: str) -> Optional[Region]:
    if not is_code(code):
        return None
    return db.session.scalar(select(Region).where(Region.code == code))


_UNIT = aliased(Region, name="unit")


def grid_regions(code: str, unit_code: str) -> dict[str, Region]:
    """The regions a row save names, by code (the grid's and the unit's), and the unit's parent,
    in one statement."""
    if not (is_code(code) and is_code(unit_code)):
        return {}
    # a union of the two lookups, each by index: spelt as `code IN (…) OR id IN (…)`, PostgreSQL
    # scanned every region (10 ms of 41,000 regions; 150 ms of the country's 700,000)
    named = union_all(select(Region.id).where(Region.code.in_((code, unit_code))),
                      select(_UNIT.parent_id).where(_UNIT.code == unit_code))
    rows = db.session.scalars(select(Region).where(Region.id.in_(named)))
    return {r.code: r for r in rows}


def children(region: Region) -> list[Region]:
    return list(db.session.scalars(select(Region).where(Region.parent_id == region.id)
                                   .order_by(Region.code)))


def descendants_at(region: Region, level: str):
    """A select of the units at `level` inside `region` (the region itself if it is at that level)."""
    query = select(Region).where(Region.level == level)
    if region.level == "village":
        return query.where(Region.id == region.id)
    return query.where(getattr(Region, f"{region.level}_id") == region.id)


# --- matching names in a 任务分解表 ------------------------------------------------------------

_COMMITTEE_SUFFIXES = (
    ("村民委员会", "村"), ("村委会", "村"), ("居民委员会", ""), ("居委会", ""), ("委员会", ""),
)


def name_forms(official: str) -> set[str]:
    """The names a table may use for a unit: its official name, or that name without the
    committee suffix (朱集村委会 / 朱集村村委会 -> 朱集村; 多福巷社区居委会 -> 多福巷社区)."""
    forms = {official}
    for suffix, replacement in _COMMITTEE_SUFFIXES:
        if official.endswith(suffix) and len(official) > len(suffix):
            base = official[: -len(suffix)]
            forms.add(base if base.endswith(replacement) else base + replacement)
            break
    return forms


def name_index(units: Iterable[tuple[int, str]]) -> dict[str, list[int]]:
    """Map every accepted form of every unit's name to the ids carrying it."""
    index: dict[str, list[int]] = {}
    for rid, name in units:
        for form in name_forms(name):
            index.setdefault(form, []).append(rid)
    return index
