"""The filing grid's view-model: its groups and rows as the page prints them (each row rendered once and
shared, see RowLayer), the held typing laid over them, and the refusal of a 提交 shown beside them."""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Optional

from flask import (
    get_template_attribute,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import and_, case, select
from sqlalchemy.orm import aliased

from forms.filing import SubmitForm
from reporting import access, clock, filters
from reporting.basis.system_figures import mismatch_text, unit_gaps
from reporting.extensions import db
from reporting.filing import held, reviewed
from reporting.filing.carry import carried_values, with_carried
from reporting.filing.filing import (
    SYSTEM_FILER,
    closed_to,
    filing_totals,
    late_status,
)
from reporting.filing.progress_workbook import rate_column
from reporting.indicators import fields
from reporting.models import VALUE_SLOTS, Period, Region, Report, Review
from reporting.progress import cache
from reporting.progress.rollup import FILED, child_totals, rate_of
from reporting.regions.hierarchy import descendants_at
from reporting.sql import among
from reporting.tables import RowIssue
from reporting.validation import Issue


def read_only(period: Period) -> bool:
    return closed_to(current_user, period.campaign, clock.today())


# --- the grid's rows -------------------------------------------------------------------------

@dataclass
class Group:
    """The units of one township (or one parent) with its subtotal row."""
    parent: Optional[Region]
    units: list[tuple["GridUnit", Optional["GridReport"]]] = field(default_factory=list)
    #: what the page prints of each unit (`grid_rows`), in the order of `units`
    rows: list["GridRow"] = field(default_factory=list)


class GridUnit(NamedTuple):
    """A unit of the grid: what its row shows of the Region, read as a plain row."""
    id: int
    code: str
    name: str
    parent_id: Optional[int]


class GridReport:
    """What a grid row shows of a Report, read as a plain row (no ORM object per unit)."""
    __slots__ = ("id", "region_id", "period_id", "status", "revision", "submitted_at", "updated_at",
                 "filer_name", "filer_phone", "filer_head", "late", "review", "_values")
    COLUMNS = ("id", "region_id", "period_id", "status", "revision", "submitted_at", "updated_at",
               "filer_name", "filer_phone", "filer_head")

    def __init__(self, row, period: Period):
        for name, value in zip(self.COLUMNS, row):
            setattr(self, name, value)
        self._values = row[len(self.COLUMNS):]
        self.late = self.submitted_at is not None and period.is_late(self.submitted_at)
        self.review = None  #: its Review (退回, 审核, publication lock), if it has one

    def values(self, indicators) -> dict[str, Optional[int]]:
        return {i.key: self._values[i.slot - 1] for i in indicators}


class GridRow(NamedTuple):
    """One unit's row of the grid page, worked out here so that the template only prints it: the
    values shown (a returned report's held edits, else its own; an empty carried cell filled from the
    last period) and, per indicator, the carried value when the cell still shows it (沿用上期)."""
    unit: GridUnit
    report: Optional[GridReport]
    values: dict[str, Optional[int]]
    #: the unit's code and name, HTML-escaped once for the row's many attributes
    code: Markup
    name: Markup
    #: (key, label, column, value shown or "", the carried value formatted if the cell shows it else
    #: None), in the form's order; key and label HTML-escaped: the template prints these cells unescaped
    cells: list[tuple]
    locked: bool
    revision: int
    #: 居民医保参保率, formatted
    rate: str
    #: 与信息系统相差N人 when the typed 已参保 is that far from the system's, else ""
    system_flag: str = ""
    #: the title of that flag: both figures
    system_note: str = ""
    #: the errors of what was typed into the row and held unsaved (held.py), or None
    held: Optional[list[Issue]] = None
    #: the row's HTML when a RowLayer has it (rendered once, or as stored); else the page renders it
    html: Optional[Markup] = None


def grid_rows(groups: list[Group], indicators, carried: dict[int, dict],
              gaps: Optional[dict[int, tuple[int, int]]] = None, holding: Optional[dict] = None,
              lay: Optional["RowLayer"] = None) -> None:
    """Fill each group's `rows`: one GridRow per unit; `gaps` are the units far from the system's
    figures. A row with typing held unsaved (`holding`: unit id -> HeldEdit) shows what was typed, as
    typed, and why it was not saved. With `lay` (the page about to be printed), each row the same for
    every reader gets its HTML from `lay`, and is worked out here only when it has to be rendered."""
    gaps = gaps or {}
    columns = [(i.key, escape(i.key), escape(i.label), n) for n, i in enumerate(indicators)]
    holding = holding or {}

    def row_of(unit: GridUnit, report: Optional[GridReport]) -> GridRow:
        last = carried.get(unit.id, {})
        values = with_carried(reviewed.shown_values(report, indicators), last)
        kept_typing = holding.get(unit.id)
        typed = kept_typing.typed if kept_typing else {}
        cells = []
        for key, key_html, label_html, column in columns:
            value = values.get(key)
            kept = last.get(key)
            if key in typed:
                cells.append((key_html, label_html, column, escape(typed[key]), None))
                continue
            cells.append((key_html, label_html, column, "" if value is None else int(value),
                          filters.count(kept) if kept is not None and kept == value else None))
        gap = gaps.get(unit.id)
        return GridRow(unit, report, values, escape(unit.code), escape(unit.name), cells,
                       reviewed.is_locked(report), report.revision if report else 0,
                       filters.percent(rate_of(values)),
                       mismatch_text(gap[0] - gap[1]) if gap else "",
                       f"填报{gap[0]:,}人，信息系统{gap[1]:,}人，请核实" if gap else "",
                       [Issue(f, m) for f, m in kept_typing.errors] if kept_typing else None)

    html = {}
    if lay is not None:
        # a row with typing held, or under review, carries a form with the reader's own token: it is
        # printed afresh for each reader, so the held values shown are always the ones held now
        html = lay.rows({unit.id: ((tuple(unit),
                                    report and (report.status, report.revision, report.late, report._values),
                                    tuple(carried.get(unit.id, {}).items()), gaps.get(unit.id)),
                                   functools.partial(row_of, unit, report))
                         for group in groups for unit, report in group.units
                         if unit.id not in holding and (report is None or report.review is None)})
    for group in groups:
        for unit, report in group.units:
            if unit.id in html:  # printed as laid: only what grid_context reads of it besides
                group.rows.append(GridRow(unit, report, {}, Markup(), Markup(), [], False,
                                          report.revision if report else 0, "", html=html[unit.id]))
            else:
                group.rows.append(row_of(unit, report))


@dataclass
class RowLayer:
    """The grid's rows as printed for one kind of reader (filer or read-only) of one grid, rendered
    once for everyone: the rows are the same for every filer and every reload until the row's unit,
    report, carried values or system figures change, so each is stored under a digest of those
    (cache.pieces) and only the rows a write changed are worked out and rendered again."""
    period: Period
    region: Region
    read_only: bool
    indicators: list

    def rows(self, wanted: dict[int, tuple[tuple, Callable[[], GridRow]]]) -> dict[int, Markup]:
        """unit id -> the row's HTML, for `wanted`: unit id -> (what the row shows, its GridRow)."""
        unit_row = get_template_attribute("filing/_rows.html", "unit_row")
        units_url, grid_code = grid_units_url(self.period, self.region), escape(self.region.code)
        rate_at = rate_column(self.indicators)

        def render(row: Callable[[], GridRow]) -> str:
            return unit_row(row(), units_url, grid_code, self.read_only, rate_at)
        form = repr([(i.key, i.label, i.part_of, i.slot) for i in self.indicators])
        return cache.pieces(f"grid:{self.period.id}:{self.region.id}:{int(self.read_only)}:{_digest(form).hex()}",
                            {unit: (_digest(repr(shown)), functools.partial(render, row))
                             for unit, (shown, row) in wanted.items()})


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def grid_units_url(period: Period, region: Region) -> Markup:
    """The grid's URL + "/units/", escaped once: each row posts to it with its unit's code."""
    return escape(url_for("filing.grid", period_id=period.id, code=region.code) + "/units/")


def grid_groups(period: Period, region: Region, only_missing: bool = False) -> list[Group]:
    """The grid's units by township with their reports; `only_missing` keeps the units not yet filled."""
    campaign = period.campaign
    in_grid = descendants_at(region, campaign.report_level)
    units = [GridUnit(*row) for row in db.session.execute(
        in_grid.with_only_columns(Region.id, Region.code, Region.name, Region.parent_id).order_by(Region.code))]
    slots = [getattr(Report, f"v{slot}") for slot in range(1, VALUE_SLOTS + 1)]
    reports = {row.region_id: GridReport(row, period) for row in db.session.execute(
        select(*[getattr(Report, c) for c in GridReport.COLUMNS], *slots)
        .where(Report.period_id == period.id, Report.region_id.in_(in_grid.with_only_columns(Region.id))))}
    if reports:  # the few reviewed ones: 已退回 with the edits held for them, or locked
        by_id = {r.id: r for r in reports.values()}
        for found in db.session.scalars(select(Review).where(among(Review.report_id, by_id))):
            by_id[found.report_id].review = found
    parent_ids = {u.parent_id for u in units} - {region.id}
    parents = {r.id: r for r in db.session.scalars(select(Region).where(Region.id.in_(parent_ids)))}
    groups: dict[Optional[int], Group] = {}
    for unit in units:
        if only_missing and unit.id in reports:
            continue
        key = unit.parent_id if unit.parent_id in parents else None
        groups.setdefault(key, Group(parents.get(key))).units.append((unit, reports.get(unit.id)))
    return list(groups.values())


def grid_units(period: Period, region: Region) -> list[tuple[str, str, bool, str]]:
    """(code, name, has a report, township name) of the grid's units, in the grid's order: the
    little a submit needs. Names repeat across townships (圩镇社区居民委员会), so the township goes too."""
    parent = aliased(Region)
    return [tuple(row) for row in db.session.execute(
        descendants_at(region, period.campaign.report_level)
        .with_only_columns(Region.code, Region.name, Report.id.is_not(None),
                           case((parent.id == region.id, ""), else_=parent.name))
        .outerjoin(Report, and_(Report.region_id == Region.id, Report.period_id == period.id))
        .join(parent, parent.id == Region.parent_id)
        .order_by(Region.code))]


@dataclass
class Refusal:
    """Why 提交 was refused, in the order a filer fixes it: the rules' errors by township, then how
    many units are still empty, then the footer (signature, reason) once."""
    #: (township name, its units' errors), in the grid's order
    groups: list[tuple[str, list[RowIssue]]] = field(default_factory=list)
    missing: int = 0
    #: the signature fields' errors, one line of their own
    signature: list[RowIssue] = field(default_factory=list)
    #: what concerns the whole form: the reason for a correction, the form's token
    notes: list[RowIssue] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(errors) for _, errors in self.groups) + len(self.signature) + len(self.notes)

    def __bool__(self) -> bool:
        return bool(self.count or self.missing)


def refusal(errors: list[RowIssue], units: list[tuple[str, str, bool, str]], missing: int = 0) -> Refusal:
    order = {code: (n, township) for n, (code, _, _, township) in enumerate(units)}
    found = Refusal(missing=missing)
    seen, groups = set(), {}
    for error in errors:
        if not error.code or error.field == "reason" or (error.field or "").startswith("filer."):
            if (error.field, error.message) not in seen:  # the same footer for every row: say it once
                seen.add((error.field, error.message))
                listed = found.signature if (error.field or "").startswith("filer.") else found.notes
                listed.append(RowIssue(None, "", error.field, error.message))
            continue
        n, township = order.get(error.code, (len(order), ""))
        groups.setdefault(township, []).append((n, error))
    for township, listed in sorted(groups.items(), key=lambda item: min(n for n, _ in item[1])):
        found.groups.append((township, [error for _, error in sorted(listed, key=lambda pair: pair[0])]))
    return found


def grid_context(period: Period, region: Region, only_missing: bool = False, lay: bool = False, **extra) -> dict:
    """What the grid page prints; `lay` when its rows are printed (the page or its grid block), so
    that they come rendered (RowLayer)."""
    campaign = period.campaign
    groups = grid_groups(period, region, only_missing)
    _, total, status = filing_totals(period, region)
    level = groups[0].parent.level if groups and groups[0].parent else None
    subtotals = child_totals(period, region, statuses=FILED, level=level) if level else {}
    reports = [r for g in groups for _, r in g.units if r is not None]
    submitted = [r for r in reports if r.status == "submitted"]
    # the footer of the last person who signed, unless the numbers came from the information system
    signed = [r for r in reports if r.filer_name and r.filer_name != SYSTEM_FILER["name"]]
    first = max(signed, key=lambda r: r.updated_at) if signed else None
    form = extra.pop("form", None) or SubmitForm(data={
        f"filer_{k}": (getattr(first, f"filer_{k}") if first else "") or default
        for k, default in (("name", current_user.full_name), ("phone", current_user.phone), ("head", ""))})
    unit_ids = [unit.id for group in groups for unit, _ in group.units]
    indicators, carried = fields(campaign.indicators), carried_values(period, unit_ids, campaign.indicators)
    holding = held.held_for(period, unit_ids)
    reading = read_only(period) or not access.can_file(current_user, region)
    grid_rows(groups, indicators, carried, unit_gaps(period, region), holding,
              RowLayer(period, region, reading, indicators) if lay else None)
    last_submitted_at = max((r.submitted_at for r in submitted), default=None)
    rows = [row for group in groups for row in group.rows]
    # every unit locked (审核通过, or its numbers printed in a 通报): nothing is left to 提交
    locked = bool(rows) and not only_missing and status.total == len(rows) and all(row.locked for row in rows)
    return dict(
        period=period, campaign=campaign, region=region, groups=groups, subtotals=subtotals,
        carried=carried, total=total, indicators=indicators,
        status=status, now=clock.now(), held_rows=held.held_under(period, region) if holding else [],
        all_submitted=bool(status.total) and status.submitted == status.total,
        last_submitted_at=last_submitted_at,
        # 填表时间: when the form was really submitted; a form not yet submitted is filled today
        filled_on=last_submitted_at.date() if last_submitted_at else clock.today(),
        late=any(r.late for r in submitted), form=form,
        read_only=reading,
        viewing=not access.can_file(current_user, region),
        locked=locked, lock_message=reviewed.lock_message(rows[0].report) if locked else "",
        reopened_by=access.reviewing_unit(region), units_url=grid_units_url(period, region),
        periods=campaign.periods, late_status=late_status, only_missing=only_missing,
        **{"errors": [], "refusal": Refusal(), "warnings": [], "needs_ack": False, "names": {}, **extra})
