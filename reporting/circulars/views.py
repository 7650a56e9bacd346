"""通报 pages: draft, edit with a live preview, issue, and the archive."""
from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from forms.circulars import EditForm, NewDraftForm
from reporting import access, clock, jobs
from reporting.calendar.schedule import current_period
from reporting.campaigns.campaigns import campaigns_for
from reporting.circulars.circulars import (
    ISSUE_MODES,
    draft_document,
    enqueue_issue,
    issue,
    new_draft,
    print_html,
    regenerate,
    render_pdf,
    stale_changes,
)
from reporting.circulars.document import PDF_STYLESHEET
from reporting.circulars.reading import AS_LISTED, addressed, mark_read, read_ids, standing
from reporting.extensions import db
from reporting.filters import LATE_NAMES
from reporting.models import Circular, Region, User
from reporting.progress.ranking import LIGHTS
from reporting.regions.issuers import check_prefix, issuing_body
from reporting.regions.views import region_or_404
from reporting.web import go_to, id_arg, page_or_fragment, period_or_404

bp = Blueprint("circulars", __name__, url_prefix="/circulars")


def load(circular_id: int, write: bool = False) -> Circular:
    circular = db.get_or_404(Circular, circular_id, description="通报不存在")
    if write or not access.can_read_circular(current_user, circular):
        # an issued circular is addressed to the units under its region; anything else is the subtree's
        access.require(current_user, circular.region)
    if circular.status != "issued" and not drafts_visible(circular):
        abort(403, "通报草稿只有起草单位的管理员可以查看")
    if write and not access.is_admin(current_user):
        abort(403, "只有市级管理员可以起草和印发通报")
    return circular


def drafts_visible(circular: Circular) -> bool:
    """A draft belongs to its author's level: the admins of the region its author is bound to."""
    author = db.session.get(User, circular.created_by_id) if circular.created_by_id else None
    return access.is_admin(current_user) and (author is None or author.region_id == current_user.region_id)


def pdf_response(data: bytes, name: str):
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(name)}"
    return response


def _quote(name: str) -> str:
    from urllib.parse import quote
    return quote(name)


@bp.get("/")
@login_required
def index():
    """The archive: every circular of the user's subtree, filterable by period and region."""
    top = current_user.region
    access.require(current_user, top)  # a department filer reads no unit's circulars
    query = select(Circular).options(*AS_LISTED).join(Region, Region.id == Circular.region_id).order_by(
        Circular.status, Circular.issued_at.desc(), Circular.id.desc())
    query = query.where(Circular.region_id == top.id if top.level == "village" else
                        (getattr(Region, f"{top.level}_id") == top.id))
    if not access.is_admin(current_user):
        query = query.where(Circular.status == "issued")
    else:
        query = query.where((Circular.status == "issued") | Circular.created_by_id.is_(None) |
                            Circular.created_by_id.in_(select(User.id).where(User.region_id == top.id)))
    code = request.args.get("region", "").strip()
    if code:
        region = region_or_404(code)
        access.require(current_user, region)
        query = query.where(Circular.region_id == region.id)
    period_id = id_arg("period")
    if period_id:
        query = query.where(Circular.period_id == period_id)
    circulars = db.session.scalars(query.limit(500)).all()
    if not code:
        # the issued circulars of the levels above, addressed to this unit
        mine = {c.id for c in circulars}
        circulars = [c for c in addressed(current_user) if c.id not in mine and not access.can_view(current_user, c.region)
                     and (not period_id or c.period_id == period_id)] + circulars
    unread = {c.id for c in circulars if c.status == "issued"} - read_ids(current_user, circulars)
    campaigns = campaigns_for(top)
    periods = campaigns[0].periods if campaigns else []
    context = dict(circulars=circulars, periods=periods, period_id=period_id, code=code, unread=unread,
                   form=NewDraftForm(data={"region": top.code, "period": (
                       current_period(campaigns[0], clock.today()).id if campaigns else None)}))
    return page_or_fragment("circulars/index.html", "list", context)


@bp.post("/")
@login_required
def create():
    form = NewDraftForm()
    if not access.is_admin(current_user):
        abort(403, "只有市级管理员可以起草通报")
    if not form.validate():
        flash("；".join(e for errors in form.errors.values() for e in errors))
        return redirect(url_for("circulars.index"), code=303)
    region = region_or_404(form.region.data.strip())
    access.require(current_user, region, write=True)
    period = period_or_404(form.period.data)
    if not period.campaign.covers(region):
        abort(404, f"{region.name}不在该征缴期范围内")
    circular = new_draft(period, region, current_user)
    db.session.commit()
    return redirect(url_for("circulars.edit", circular_id=circular.id), code=303)


@bp.route("/<int:circular_id>/edit", methods=["GET", "POST"])
@login_required
def edit(circular_id: int):
    """Edit the text; every change is saved and the preview beside it reloads."""
    circular = load(circular_id, write=True)
    if circular.status == "issued":
        return redirect(url_for("circulars.show", circular_id=circular.id), code=303)
    bureau = issuing_body(circular.region)
    form = EditForm(obj=None, data=None if request.method == "POST" else {
        "title": circular.title, "body": circular.body, "issuer": bureau.name, "prefix": bureau.prefix,
        "addressee": bureau.addressee, "copy_to": bureau.copy_to, "printed_by": bureau.printed_by})
    status = 200
    if request.method == "POST":
        valid = form.validate()
        if valid and (taken := prefix_taken(circular, form.prefix.data.strip())):
            form.prefix.errors.append(taken)
            valid = False
        if valid:
            circular.title, circular.body = form.title.data.strip(), form.body.data
            bureau.name, bureau.prefix = form.issuer.data.strip(), form.prefix.data.strip()
            bureau.addressee, bureau.copy_to = form.addressee.data.strip(), (form.copy_to.data or "").strip()
            bureau.printed_by = form.printed_by.data.strip()
            if bureau.id is None:
                db.session.add(bureau)
            db.session.commit()
            if not request.htmx:
                flash("已保存")
                return redirect(url_for("circulars.edit", circular_id=circular.id), code=303)
        else:
            status = 422
    context = dict(circular=circular, form=form, version=int(clock.now().timestamp()),
                   changes=stale_changes(circular))
    return page_or_fragment("circulars/edit.html", "preview", context, status)


def prefix_taken(circular: Circular, prefix: str) -> str:
    """The reason a 机关代字 cannot be this body's, or an empty string."""
    try:
        check_prefix(circular.region, prefix)
    except ValueError as error:
        return str(error)
    return ""


@bp.post("/<int:circular_id>/regenerate")
@login_required
def regenerate_circular(circular_id: int):
    """按最新数据重新生成: the body written again from the latest figures (hand edits are redone)."""
    circular = load(circular_id, write=True)
    if circular.status == "issued":
        flash("该通报已印发")
        return redirect(url_for("circulars.show", circular_id=circular.id), code=303)
    regenerate(circular, current_user)
    db.session.commit()
    flash("已按最新数据重新生成正文和附件")
    return go_to(url_for("circulars.edit", circular_id=circular.id))


@bp.get("/<int:circular_id>/print")
@login_required
def printable(circular_id: int):
    """The printable HTML: as issued, or for a draft as it would be issued now (fitted to its pages
    as its PDF is, so that both hold the same annexes)."""
    circular = load(circular_id)
    stylesheet = url_for("static", filename="circular.css")
    # rendered for the PDF, whose stylesheet link is relative to the project
    html = circular.html if circular.status == "issued" else print_html(draft_document(circular))
    html = html.replace(f'href="{PDF_STYLESHEET}"', f'href="{stylesheet}"')
    response = make_response(html)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    return response


@bp.get("/<int:circular_id>")
@login_required
def show(circular_id: int):
    circular = load(circular_id)
    mark_read(circular, current_user)
    db.session.commit()
    return render_template("circulars/show.html", circular=circular,
                           standing=standing(circular, current_user.region), lights=LIGHTS, late_names=LATE_NAMES)


@bp.get("/<int:circular_id>.pdf")
@login_required
def pdf(circular_id: int):
    """The issued PDF as stored; a draft is rendered from today's numbers."""
    circular = load(circular_id)
    if circular.status == "issued":
        mark_read(circular, current_user)
        db.session.commit()
        return pdf_response(circular.pdf, f"{circular.doc_number}.pdf")
    return pdf_response(render_pdf(draft_document(circular)), f"通报草稿{circular.id}.pdf")


@bp.post("/<int:circular_id>/issue")
@login_required
def issue_circular(circular_id: int):
    circular = load(circular_id, write=True)
    if circular.status == "issued":
        flash("该通报已印发")
        return redirect(url_for("circulars.show", circular_id=circular.id), code=303)
    mode = request.form.get("mode") or None
    if mode is not None and mode not in ISSUE_MODES:
        abort(422, "印发方式只能是按最新数据重新生成或按起草时数据印发")
    changes = stale_changes(circular)
    if changes and mode is None:
        # a body of one moment beside annexes of another: the author chooses which moment
        return render_template("circulars/stale.html", circular=circular, changes=changes), 409
    job_id = enqueue_issue(circular.id, current_user.id, mode)
    if job_id is not None:
        # a large circular takes a while to typeset: a worker does it, the page shows its steps
        circular.job_id = job_id
        db.session.commit()
        if request.htmx:
            return render_template("circulars/_job.html", circular=circular, job=jobs.status(job_id))
        return redirect(url_for("circulars.job", circular_id=circular.id), code=303)
    issue(circular, current_user, mode=mode)
    db.session.commit()
    flash(f"已印发 {circular.doc_number}（第{circular.issue_no}期）")
    return go_to(url_for("circulars.show", circular_id=circular.id))


@bp.get("/<int:circular_id>/job")
@login_required
def job(circular_id: int):
    """The progress of a circular being issued in the background; polled by htmx until done."""
    circular = load(circular_id, write=True)
    if circular.status == "issued":
        flash(f"已印发 {circular.doc_number}（第{circular.issue_no}期）")
        return go_to(url_for("circulars.show", circular_id=circular.id))
    if not circular.job_id:
        return redirect(url_for("circulars.edit", circular_id=circular.id), code=303)
    context = dict(circular=circular, job=jobs.status(circular.job_id))
    if request.htmx:
        return render_template("circulars/_job.html", **context)
    return render_template("circulars/job.html", **context)


