"""督办 pages: the items about a region, a new 约谈 or 督办单, one item with its 整改报告, 销号 and 退回."""
from __future__ import annotations

import io
import os

from flask import Blueprint, abort, current_app, flash, request, send_file, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import Forbidden

from forms.supervision import CloseForm, ReopenForm, ResponseForm, SupervisionForm
from reporting import access, clock
from reporting.campaigns.web import period_for
from reporting.extensions import db
from reporting.models import Department, Region, SupervisionAttachment, SupervisionItem
from reporting.regions.hierarchy import region_by_code
from reporting.reminders.reminders import KINDS as ROBOT_KINDS
from reporting.reminders.reminders import robot_timeout
from reporting.spreadsheets import file_name
from reporting.supervision import supervision
from reporting.web import go_to, id_arg, page_or_fragment

bp = Blueprint("supervision", __name__, url_prefix="/supervision")

FILTERS = {"": "全部", "open": "待整改", "overdue": "已逾期", "responded": "已报送整改报告", "closed": "已销号"}


def load_region(code: str) -> Region:
    region = region_by_code(code)
    if region is None:
        abort(404, f"区划代码 {code} 不存在")
    access.require(current_user, region)
    return region


def load_item(item_id: int) -> SupervisionItem:
    item = db.get_or_404(SupervisionItem, item_id, description="该督办事项不存在")
    if not access.can_read_supervision(current_user, item):
        raise Forbidden("无权查看该督办事项")
    return item


@bp.get("/<code>")
@login_required
def index(code: str):
    region = load_region(code)
    status = request.args.get("status", "")
    if status not in FILTERS:
        abort(400, "状态筛选有误")
    today = clock.today()
    items = supervision.items_about(region, status or None, today)
    return page_or_fragment("supervision/index.html", "items",
                            dict(region=region, items=items, status=status, filters=FILTERS, today=today,
                                 kinds=supervision.KINDS, statuses=supervision.STATUSES,
                                 countdown=supervision.countdown))


@bp.get("/<code>/ledger.xlsx")
@login_required
def ledger(code: str):
    """督办台账: every item about the region and under it, with its state and figures."""
    region = load_region(code)
    today = clock.today()
    title = f"{region.name}督办台账（{today.year}年{today.month}月{today.day}日）"
    data = supervision.ledger_workbook(supervision.items_about(region, None, today), title, today)
    return send_file(io.BytesIO(data), as_attachment=True, download_name=file_name(f"{region.name}督办台账.xlsx"),
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _subject():
    """The unit (?unit=CODE) or the department (?department=ID) a new item is about, after the check
    that the user reviews it."""
    department_id = id_arg("department")
    if department_id is not None:
        department = db.get_or_404(Department, department_id, description="部门不存在")
        region = None
    else:
        region = region_by_code(request.args.get("unit", ""))
        if region is None:
            abort(404, "请指定督办的单位")
        department = None
    if not access.can_supervise(current_user, region, department):
        raise Forbidden("只有审核该单位报表的上级单位可以建立督办事项")
    return region, department


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    region, department = _subject()
    place = region or department.region
    period = period_for(place, id_arg("period"))
    form = SupervisionForm()
    if request.method == "GET":
        # from the 约谈名单: the rule the unit fell under and its figures, written for the record
        form.kind.data = request.args.get("kind") if request.args.get("kind") in supervision.KINDS else "interview"
        form.matter.data = supervision.suggested_matter(period, region, department)
        form.interview_date.data = clock.today()
        form.interviewee.data = "主要负责人"
    problem, status = None, 200
    if request.method == "POST" and form.validate():
        interview = ({"date": form.interview_date.data, "place": form.interview_place.data,
                      "interviewee": form.interviewee.data, "interviewer": form.interviewer.data}
                     if form.kind.data == "interview" else None)
        try:
            item = supervision.create(current_user, period, kind=form.kind.data, matter=form.matter.data,
                                      due=form.due.data, region=region, department=department,
                                      requirement=form.requirement.data or "", interview=interview)
        except supervision.SupervisionInvalid as invalid:
            db.session.rollback()
            problem, status = str(invalid), 422
        else:
            db.session.commit()
            supervision.notify(item, "created", robot_timeout(current_app.config))  # after the commit
            db.session.commit()
            flash(f"已建立{item.number}（{supervision.KINDS[item.kind]}：{item.subject_name}）")
            return go_to(url_for("supervision.show", item_id=item.id))
    elif request.method == "POST":
        status = 422
    return page_or_fragment("supervision/new.html", "form",
                            dict(form=form, region=region, department=department, period=period, problem=problem),
                            status)


def show_context(item: SupervisionItem, **extra) -> dict:
    today = clock.today()
    return dict(item=item, today=today, kinds=supervision.KINDS, statuses=supervision.STATUSES,
                countdown=supervision.countdown(item, today),
                now=supervision.now_standing(item, today),
                may_answer=access.can_answer_supervision(current_user, item) and item.status != "closed",
                may_issue=access.can_supervise(current_user, item.region, item.department),
                response_form=extra.pop("response_form", None) or ResponseForm(),
                reopen_form=extra.pop("reopen_form", None) or ReopenForm(formdata=None),
                close_form=CloseForm(), notices=supervision.notices(item), robot_kinds=ROBOT_KINDS,
                occasions=supervision.OCCASION_WORDS, outcomes=supervision.OUTCOME_WORDS,
                **{"problem": None, **extra})


@bp.get("/items/<int:item_id>")
@login_required
def show(item_id: int):
    item = load_item(item_id)
    return page_or_fragment("supervision/show.html", "steps", show_context(item))


def _step(item: SupervisionItem, run, done: str, **forms):
    """Run one step in the request's transaction, then back to the item (or the page with the error)."""
    try:
        run()
    except supervision.SupervisionInvalid as invalid:
        db.session.rollback()
        return page_or_fragment("supervision/show.html", "steps", show_context(item, problem=str(invalid), **forms), 422)
    except supervision.SupervisionRefused as refused:
        db.session.rollback()
        return page_or_fragment("supervision/show.html", "steps", show_context(item, problem=str(refused), **forms), 409)
    db.session.commit()
    flash(done)
    return go_to(url_for("supervision.show", item_id=item.id))


def _form_errors(form) -> str:
    return "；".join(e for errors in form.errors.values() for e in errors)


@bp.post("/items/<int:item_id>/response")
@login_required
def respond(item_id: int):
    item = load_item(item_id)
    if not access.can_answer_supervision(current_user, item):
        raise Forbidden(f"只有{item.subject_name}的填报人员可以报送整改报告")
    form = ResponseForm()
    if not form.validate():
        return page_or_fragment("supervision/show.html", "steps",
                                show_context(item, problem=_form_errors(form), response_form=form), 422)
    files = [(f.filename or "附件", f.read()) for f in request.files.getlist(form.attachments.name) if f.filename]
    folder = current_app.config["SUPERVISION_FILES"]
    written: list[str] = []

    def run():
        response = supervision.respond(item, current_user, form.text.data, form.measures.data or "",
                                       form.promise.data or "", attachments=files, folder=folder)
        written.extend(response.written)
    try:
        return _step(item, run, f"已报送{item.number}的整改报告", response_form=form)
    except Exception:
        for path in written:  # the report was not saved: nor are its files
            os.remove(path)
        raise


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):
    """A 整改报告's file, to those who may read the item only; always as a download."""
    found = db.get_or_404(SupervisionAttachment, attachment_id, description="该附件不存在")
    load_item(found.response.item_id)
    path = supervision.attachment_path(found, current_app.config["SUPERVISION_FILES"])
    if not os.path.exists(path):
        abort(404, "该附件的文件已不存在")
    with open(path, "rb") as stored:  # read whole (10 MB at most): no file stays open with the answer
        data = stored.read()
    return send_file(io.BytesIO(data), mimetype=found.content_type, as_attachment=True,
                     download_name=found.filename)


@bp.post("/items/<int:item_id>/close")
@login_required
def close(item_id: int):
    item = load_item(item_id)
    if not access.can_supervise(current_user, item.region, item.department):
        raise Forbidden("只有督办单位可以销号")
    form = CloseForm()
    if not form.validate():
        return page_or_fragment("supervision/show.html", "steps", show_context(item, problem=_form_errors(form)), 422)
    return _step(item, lambda: supervision.close(item, current_user), f"{item.number}已销号")


@bp.post("/items/<int:item_id>/reopen")
@login_required
def reopen(item_id: int):
    item = load_item(item_id)
    if not access.can_supervise(current_user, item.region, item.department):
        raise Forbidden("只有督办单位可以退回重新整改")
    form = ReopenForm()
    if not form.validate():
        return page_or_fragment("supervision/show.html", "steps",
                                show_context(item, problem=_form_errors(form), reopen_form=form), 422)
    return _step(item, lambda: supervision.reopen(item, current_user, form.reason.data, form.due.data),
                 f"已将{item.number}退回重新整改", reopen_form=form)
