"""The 参保进度表 grid: a county (or township) files its units' counts for a period."""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Optional

from flask import (
    Blueprint,
    abort,
    flash,
    get_template_attribute,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased, joinedload

from forms.filing import SubmitForm, UploadForm
from reporting import access, clock, filters
from reporting.basis.system_figures import mismatch_text, unit_gaps
from reporting.calendar.schedule import current_period
from reporting.campaigns.campaigns import campaigns_for
from reporting.extensions import db
from reporting.filing import held, reviewed
from reporting.filing.carry import carried_values, with_carried
from reporting.filing.filing import (
    FILER_FIELDS,
    SYSTEM_FILER,
    ReportConflict,
    ReportRejected,
    closed_to,
    filing_totals,
    find_report,
    import_reports,
    late_status,
    save_report,
)
from reporting.filing.filing import history as report_history
from reporting.filing.progress_workbook import rate_column
from reporting.filing.workbook_upload import carry_rows, foreign_form, outcome_message
from reporting.indicators import fields
from reporting.models import LEVELS, VALUE_SLOTS, Campaign, Period, Region, Report, Review
from reporting.progress import cache
from reporting.progress.rollup import FILED, child_totals, rate_of
from reporting.regions.hierarchy import descendants_at, grid_regions, region_by_code
from reporting.regions.views import region_or_404
from reporting.spreadsheets import TableError, file_name
from reporting.sql import among
from reporting.tables import ImportRejected, RowIssue
from reporting.validation import Issue
from reporting.web import commit_keeping_rows, go_to, id_arg, page_or_fragment, period_or_404

bp = Blueprint("filing", __name__, url_prefix="/filing")
bp.add_app_template_global(with_carried)
bp.add_app_template_global(rate_column)


# --- loading and checking --------------------------------------------------------------------

def load_grid(period_id: int, code: str, write: bool = False, region: Optional[Region] = None
              ) -> tuple[Period, Region]:
    """The period and the filing region of a grid URL (`region`, when the caller has read it),
    after the one access check."""
    period = period_or_404(period_id, options=[joinedload(Period.campaign).joinedload(Campaign.root)])
    region = region or region_or_404(code)
    access.require(current_user, region, write=write)  # a viewer reads the grid, and changes nothing
    campaign = period.campaign
    if not campaign.covers(region):
        abort(404, f"{region.name}不在该征缴期范围内")
    if LEVELS.index(region.level) > LEVELS.index(campaign.report_level):
        abort(404, f"{region.name}低于填报层级")
    return period, region


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


def respond(template: str, block: str, context: dict, status: int = 200):
    return page_or_fragment(template, block, context, status)


# --- pages ----------------------------------------------------------------------------------

@bp.get("/")
@login_required
def index():
    """The grid of the current period for the user's own region (or department), or the one chosen."""
    access.require_business(current_user)
    if current_user.role == "department_filer" or request.args.get("department"):
        return _department_index()
    region = current_user.region
    campaigns = campaigns_for(region)
    if not campaigns:
        abort(404, "目前没有征缴期")
    campaign = campaigns[0]
    period = (db.session.get(Period, id_arg("period") or 0)
              or current_period(campaign, clock.today()))
    code = request.args.get("region") or region.code
    if LEVELS.index(region.level) < LEVELS.index("county") and "region" not in request.args:
        return render_template("filing/choose.html", region=region, period=period,
                               may_file=access.can_file(current_user, region),
                               counties=db.session.scalars(descendants_at(region, "county")
                                                           .order_by(Region.code)).all())
    return redirect(url_for("filing.grid", period_id=period.id, code=code))


@bp.get("/<int:period_id>/<code>")
@login_required
def grid(period_id: int, code: str):
    period, region = load_grid(period_id, code)
    only_missing = request.args.get("only") == "missing"
    return respond("filing/grid.html", "grid", grid_context(period, region, only_missing, lay=True))


@bp.post("/<int:period_id>/<code>/units/<unit_code>")
@login_required
def update_unit(period_id: int, code: str, unit_code: str):
    """Save one unit's row as a draft (or a correction) and answer with the recomputed totals."""
    named = grid_regions(code, unit_code)  # the grid's region, the unit and its township at once
    period, region = load_grid(period_id, code, write=True, region=named.get(code))
    unit = named.get(unit_code)
    if unit is None or not region.contains(unit) or unit.level != period.campaign.report_level:
        abort(404, "该单位不在本表中")
    if not request.htmx:
        return redirect(url_for("filing.grid", period_id=period.id, code=region.code), code=303)
    # plain specs: the commit below expires the ORM rows, and the answer would reload each one
    indicators = fields(period.campaign.indicators)
    raw = {i.key: request.form[i.key] for i in indicators if i.key in request.form}
    revision = request.form.get("revision", type=int)
    outcome, conflict, errors, warnings, holding = None, None, [], [], False
    try:
        outcome = save_report(period, unit, raw, {}, user=current_user, submit=False, strict=False,
                              reason=request.form.get("reason"), revision=revision)
        errors, warnings = outcome.errors, outcome.warnings
        held.release(period, unit)
        commit_keeping_rows()
    except ReportRejected as rejected:
        db.session.rollback()
        errors, warnings = rejected.errors, rejected.warnings
        # nothing typed is lost: the row is kept as typed, with its errors, until fixed or discarded
        held.hold(period, unit, raw, errors, current_user)
        commit_keeping_rows()
        holding = True
    except ReportConflict as error:
        db.session.rollback()
        conflict = error
    report = outcome.report if outcome else find_report(period, unit)
    # Only what the change moves: this row's rate and messages, its group's subtotal, the total.
    group = unit.parent if unit.parent_id != region.id and region.contains(unit.parent) else None
    subtotal, total, status = filing_totals(period, region, group)
    body = render_template(
        "filing/_unit_update.html", unit=unit, report=report, errors=errors, warnings=warnings,
        conflict=conflict, values=reviewed.shown_values(report, indicators), indicators=indicators,
        rate_of=rate_of, group=group, holding=holding, subtotal=subtotal, total=total, status=status)
    response = make_response(body)
    response.headers["HX-Trigger"] = json.dumps({"grid-cells": {
        "unit": unit.code, "invalid": sorted({e.field for e in errors if e.field}),
        "warned": sorted({w.field for w in warnings if w.field}), "held": holding}})
    return response


@bp.post("/<int:period_id>/<code>/units/<unit_code>/discard")
@login_required
def discard(period_id: int, code: str, unit_code: str):
    """放弃修改: what was typed into a row and held unsaved is dropped; the row shows its saved values."""
    named = grid_regions(code, unit_code)
    period, region = load_grid(period_id, code, write=True, region=named.get(code))
    unit = named.get(unit_code)
    if unit is None or not region.contains(unit) or unit.level != period.campaign.report_level:
        abort(404, "该单位不在本表中")
    if held.release(period, unit):
        flash(f"已放弃{unit.name}未保存的输入")
    db.session.commit()
    return go_to(url_for("filing.grid", period_id=period.id, code=region.code, _anchor=f"u-{unit.code}"))


@bp.post("/<int:period_id>/<code>/submit")
@login_required
def submit(period_id: int, code: str):
    """提交: every unit of the grid at once, after one acknowledgement of the warnings."""
    period, region = load_grid(period_id, code, write=True)
    form = SubmitForm()
    units = grid_units(period, region)
    names = {code: name for code, name, _, _ in units}
    if locked_grid(period, region):
        return respond("filing/grid.html", "submit_panel", grid_context(period, region, form=form, names=names), 409)
    if not form.validate():
        # the footer's own checks (lengths, the CSRF token): listed like the rules' errors, at their field
        refused = [RowIssue(None, "", f"filer.{name[len('filer_'):]}" if name.startswith("filer_") else name,
                            message) for name, messages in form.errors.items() for message in messages]
        return respond("filing/grid.html", "submit_panel", grid_context(
            period, region, form=form, refusal=refusal(refused, units), names=names), 422)
    filer = {k: (getattr(form, f"filer_{k}").data or "").strip() for k in FILER_FIELDS}
    missing = sum(1 for _, _, filed, _ in units if not filed)
    # a returned unit goes back up with the edits held for it (its resubmission)
    unsaved = save_held(period, region, form.reason.data)
    returned = reviewed.pending_codes(period, region)
    rows = [(None, code, returned.get(code, {}), {}) for code, _, filed, _ in units if filed]
    refused, outcome = refusal(unsaved, units, missing), None
    try:
        outcome = import_reports(period, rows, submit=True, user=current_user, reason=form.reason.data,
                                 default_filer=filer, scope=region, dry_run=bool(missing or unsaved),
                                 hold_on_warnings=not form.acknowledge.data)
    except ImportRejected as rejected:
        db.session.rollback()
        # what the grid shows in red and never reached a report comes first, with the rules' errors
        refused = refusal(unsaved + rejected.errors, units, missing)
    if refused:  # the errors first, then the warnings the dry run found
        return respond("filing/grid.html", "submit_panel", grid_context(
            period, region, form=form, refusal=refused, warnings=outcome.warnings if outcome else [],
            names=names), 422)
    if not outcome.written:  # warnings wait for one acknowledgement
        return respond("filing/grid.html", "submit_panel", grid_context(
            period, region, form=form, warnings=outcome.warnings, needs_ack=True, names=names), 422)
    db.session.commit()
    flash(f"已提交{region.name}{period.label}的进度表")
    return go_to(url_for("filing.grid", period_id=period.id, code=region.code))


def locked_grid(period: Period, region: Region) -> bool:
    """Whether every unit of the grid is locked (审核通过, or printed in a 通报): 提交 has nothing to do."""
    units = descendants_at(region, period.campaign.report_level).with_only_columns(Region.id)
    total = db.session.scalar(units.with_only_columns(func.count(Region.id)))
    locked = db.session.scalar(
        select(func.count(Report.id)).join(Review, Review.report_id == Report.id)
        .where(Report.period_id == period.id, Report.region_id.in_(units),
               (Review.state == "approved") | Review.published_lock.is_(True)))
    return bool(total) and locked == total


def save_held(period: Period, region: Region, reason: Optional[str]) -> list[RowIssue]:
    """The rows held unsaved under `region`: each is saved once more (a correction that waited for
    its 修改原因 goes through with the one given now); what still fails is answered as the grid
    shows it, by unit, so that 提交 is refused while any of it remains."""
    left = []
    for code, _, kept in held.held_under(period, region):
        unit = region_by_code(code)
        try:
            with db.session.begin_nested():
                save_report(period, unit, kept.typed, {}, user=current_user, submit=False, strict=False,
                            reason=reason)
                held.release(period, unit)
        except (ReportRejected, ReportConflict) as failed:
            issues = failed.errors if isinstance(failed, ReportRejected) else [Issue(None, str(failed))]
            # the reason's absence is this unit's, not the whole form's: it stays on the unit's line
            left += [RowIssue(None, code, None if e.field == "reason" else e.field, e.message) for e in issues]
    return left


@bp.get("/<int:period_id>/<code>/history")
@login_required
def history(period_id: int, code: str):
    """Who changed what, when and why: every revision of the grid's reports, as a diff."""
    period, region = load_grid(period_id, code)
    units = descendants_at(region, period.campaign.report_level).with_only_columns(Region.id)
    revisions = report_history(period, units)
    reports = {r.id: r for r in db.session.scalars(select(Report).where(
        Report.id.in_({rev.report_id for rev in revisions})))}
    actions = reviewed.actions_under(period, region)
    reports.update({r.id: r for r in db.session.scalars(select(Report).where(
        Report.id.in_({a.report_id for a in actions} - set(reports))))})
    return render_template("filing/history.html", period=period, region=region, revisions=revisions,
                           reports=reports, indicators=period.campaign.indicators, actions=actions)


@bp.get("/<int:period_id>/<code>/form.xlsx")
@login_required
def download(period_id: int, code: str):
    """The period's form as .xlsx in the 进度表 layout, with the current values."""
    from reporting.filing.progress_workbook import FormRow, write_progress_form
    period, region = load_grid(period_id, code)
    context = grid_context(period, region)
    indicators = context["indicators"]
    rows, carried = [], context["carried"]
    for group in context["groups"]:
        for unit, report in group.units:
            last = carried.get(unit.id, {})
            values = with_carried(report.values(indicators) if report else {}, last)
            rows.append(FormRow(unit.code, unit.name, values,
                                carried=frozenset(k for k, v in last.items() if values.get(k) == v)))
        if group.parent is not None:
            sub = context["subtotals"].get(group.parent.id)
            rows.append(FormRow("", f"{group.parent.name} 小计", sub.values if sub else {}, kind="subtotal"))
    rows.append(FormRow("", "合计", context["total"].values, kind="total"))
    form = context["form"]
    data = write_progress_form(
        title=f"{period.campaign.name}参保进度表", unit_name=f"{region.name}医疗保障局",
        as_of=period.as_of, due=period.due, columns=_columns(indicators), rows=rows,
        filer={k: getattr(form, f"filer_{k}").data or "" for k in FILER_FIELDS}, filled_on=context["filled_on"])
    return workbook_response(data, f"{region.name}{period.label}参保进度表.xlsx")


def workbook_response(data: bytes, name: str):
    """An .xlsx download under a Chinese file name."""
    import io
    return send_file(io.BytesIO(data), as_attachment=True, download_name=file_name(name),
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.route("/<int:period_id>/<code>/upload", methods=["GET", "POST"])
@login_required
def upload(period_id: int, code: str):
    """Upload a filled .xlsx: the same validation, all or nothing, errors by row and column."""
    from reporting.filing.progress_workbook import read_progress_form
    period, region = load_grid(period_id, code, write=True)
    form = UploadForm()
    problems: list = []
    done, warnings = None, []
    if form.validate_on_submit():
        indicators = period.campaign.indicators
        try:
            data = form.workbook.data.read()
            parsed = read_progress_form(data, _columns(indicators),
                                        max_rows=upload_rows(period, region))
            foreign = foreign_form(region, [unit_code for _, unit_code, _ in parsed.rows])
            if foreign:
                raise TableError(foreign)
            units = descendants_at(region, period.campaign.report_level).with_only_columns(Region.id)
            rows = carry_rows(parsed.rows, carried_values(period, units, indicators, by_code=True))
            # the footer signs every row the file changes; a draft's footer may still be incomplete
            outcome = import_reports(
                period, [(line, unit_code, raw, {}) for line, unit_code, raw in rows],
                submit=form.submit_now.data, user=current_user, reason=form.reason.data,
                default_filer=parsed.filer, require_signature=form.submit_now.data, scope=region,
                source={"file": form.workbook.data.filename or "", "sha256": hashlib.sha256(data).hexdigest()})
        except TableError as error:
            problems = [RowIssue(None, "", None, str(error))]
        except ImportRejected as rejected:
            db.session.rollback()
            problems = _footer_once(rejected.errors)
        else:
            db.session.commit()
            done, warnings = outcome_message(outcome), outcome.warnings
            if not warnings:
                flash(done)
                return redirect(url_for("filing.grid", period_id=period.id, code=region.code), code=303)
    labels = {i.key: i.label for i in period.campaign.indicators}
    labels.update({"reason": "修改原因", **{f"filer.{k}": v for k, v in FILER_FIELDS.items()}})
    names = {unit_code: f"{township} · {name}" if township else name
             for unit_code, name, _, township in grid_units(period, region)} if warnings else {}
    status = 422 if problems or form.errors else 200
    return render_template("filing/upload.html", period=period, region=region, form=form,
                           problems=problems, labels=labels, done=done, warnings=warnings,
                           names=names), status


def upload_rows(period: Period, region: Region) -> int:
    """The most rows an upload for `region` may hold: its report-level units, plus room for a header,
    subtotals, notes and a footer."""
    units = db.session.scalar(descendants_at(region, period.campaign.report_level)
                              .with_only_columns(func.count(Region.id)))
    return units + units // 4 + 100


def _department_index():
    """A department's one-row form: the filer's own department, or the one an admin chose."""
    from reporting.models import Department
    department = (current_user.department if current_user.role == "department_filer" else
                  db.get_or_404(Department, id_arg("department") or 0, description="部门不存在"))
    if department is None:
        abort(404, "该账号没有绑定部门")
    if request.args.get("region", department.region.code) != department.region.code:
        abort(403, "部门填报员只能填报本部门的进度表")
    access.require_department(current_user, department, write=True)
    period = db.session.get(Period, id_arg("period") or 0)
    if period is None or period.campaign_id != department.campaign_id:
        period = current_period(department.campaign, clock.today())
    return redirect(url_for("departments.grid", department_id=department.id, period_id=period.id))


def _footer_once(errors: list[RowIssue]) -> list[RowIssue]:
    """The footer is shared by every row: say what is wrong with it once, before the rows."""
    footer, rows, seen = [], [], set()
    for error in errors:
        if error.field and error.field.startswith("filer."):
            if (error.field, error.message) not in seen:
                seen.add((error.field, error.message))
                footer.append(RowIssue(None, "", error.field, error.message))
        else:
            rows.append(error)
    return footer + rows


def _columns(indicators):
    from reporting.filing.progress_workbook import Column
    return [Column(i.key, i.label, i.part_of) for i in indicators]
