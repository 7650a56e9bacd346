"""The JSON API of API.md, authenticated by bearer tokens."""
from __future__ import annotations

import datetime as dt
from functools import wraps
from typing import Optional

from flask import Blueprint, abort, current_app, g, jsonify, make_response, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from reporting import access, clock
from reporting.campaigns.campaigns import campaign_json
from reporting.campaigns.web import period_for
from reporting.circulars.reading import addressed
from reporting.departments.departments import department_progress, report_answer
from reporting.extensions import db
from reporting.filing.filing import (
    ReportConflict,
    ReportRejected,
    find_report,
    is_report_unit,
    report_json,
    save_report,
)
from reporting.models import ApiToken, Campaign, Circular, Department, Period, SupervisionItem, User
from reporting.progress import cache
from reporting.progress.ranking import MEASURES, progress_json
from reporting.regions.hierarchy import children
from reporting.regions.views import region_or_404
from reporting.reminders import reminders
from reporting.review import review
from reporting.supervision import supervision
from reporting.web import commit_keeping_rows, id_arg, period_or_404, tagged, tagged_region, unchanged

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def error(status: int, message: str, field: str | None = None):
    return jsonify(errors=[{"field": field, "message": message}]), status


def token_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return error(401, "缺少API令牌（Authorization: Bearer …）")
        found = db.session.scalar(select(ApiToken).options(joinedload(ApiToken.user).joinedload(User.region))
                                  .where(ApiToken.digest == ApiToken.hash(token.strip())))
        if found is None or found.revoked_at is not None or not found.user.active:
            return error(401, "API令牌无效或已撤销")
        g.api_user = found.user
        return view(*args, **kwargs)
    return wrapped


def load_region(code: str):
    return region_or_404(code)


def campaign_visible(user, campaign: Campaign) -> bool:
    """A campaign is visible to whoever can see its root or whose region lies inside it."""
    return access.can_view(user, campaign.root) or (access.in_business(user) and campaign.root.contains(user.region))


@bp.get("/regions/<code>")
@token_required
def region(code: str):
    region = load_region(code)
    access.require(g.api_user, region)
    parent = region.parent
    return jsonify(code=region.code, name=region.name, level=region.level,
                   parent_code=parent.code if parent else None,
                   children=[{"code": c.code, "name": c.name, "level": c.level} for c in children(region)])


@bp.get("/campaigns/<int:campaign_id>")
@token_required
def campaign(campaign_id: int):
    campaign = db.get_or_404(Campaign, campaign_id, description=f"征缴期 {campaign_id} 不存在")
    if not campaign_visible(g.api_user, campaign):
        abort(403, "无权查看该征缴期")
    return jsonify(campaign_json(campaign))


@bp.get("/campaigns/<int:campaign_id>/periods")
@token_required
def periods(campaign_id: int):
    campaign = db.get_or_404(Campaign, campaign_id, description=f"征缴期 {campaign_id} 不存在")
    if not campaign_visible(g.api_user, campaign):
        abort(403, "无权查看该征缴期")
    return jsonify([{"id": p.id, "label": p.label, "as_of": p.as_of.isoformat(),
                     "due": p.due.isoformat()} for p in campaign.periods])


def load_period(period_id: int) -> Period:
    return period_or_404(period_id, options=[joinedload(Period.campaign).joinedload(Campaign.root)])


def report_target(region_code: str, period_id: int, write: bool = False):
    """Load the unit and period of a report URL and check the caller may read (or write) it."""
    region = load_region(region_code)
    access.require(g.api_user, region, write=write)
    period = load_period(period_id)
    if not is_report_unit(period.campaign, region):
        abort(422, f"{region.name}不是该征缴期的填报单位（填报层级：{period.campaign.report_level}）")
    return region, period


@bp.get("/reports/<region_code>/<int:period_id>")
@token_required
def get_report(region_code: str, period_id: int):
    region, period = report_target(region_code, period_id)
    return jsonify(report_json(find_report(period, region), period, region, clock.now()))


@bp.put("/reports/<region_code>/<int:period_id>")
@token_required
def put_report(region_code: str, period_id: int):
    region, period = report_target(region_code, period_id, write=True)
    return _save(period, region, None, lambda report: report_json(report, period, region, clock.now()))


def _save(period: Period, region, department, answer):
    """The PUT of a report, a unit's or a department's: shape, rules, save, and `answer(report)`."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested too deep for the JSON decoder: not a body of ours either
        body = None
    problems = _shape_errors(body)
    if problems:
        return jsonify(errors=problems), 422
    try:
        outcome = save_report(period, region, body.get("values") or {}, body.get("filer") or {},
                              user=g.api_user, submit=bool(body.get("submit")), reason=body.get("reason"),
                              revision=body.get("revision"), department=department)
    except ReportRejected as rejected:
        db.session.rollback()
        return jsonify(errors=[e.as_json() for e in rejected.errors],
                       warnings=[w.as_json() for w in rejected.warnings]), 422
    except ReportConflict as conflict:
        db.session.rollback()
        current = find_report(period, region, department)
        return jsonify(errors=[{"field": None, "message": str(conflict)}], current=answer(current)), 409
    commit_keeping_rows()
    result = answer(outcome.report)
    result["warnings"] = [w.as_json() for w in outcome.warnings]
    return jsonify(result)


def department_target(department_id: int, period_id: int, write: bool = False):
    """Load the department and period of a department report URL, after the access check."""
    department = db.get_or_404(Department, department_id, description=f"部门 {department_id} 不存在")
    access.require_department(g.api_user, department, write=write)
    period = load_period(period_id)
    if period.campaign_id != department.campaign_id:
        abort(404, f"报送期次 {period_id} 不属于{department.name}所在的征缴期")
    return department, period


@bp.get("/departments/<int:department_id>/reports/<int:period_id>")
@token_required
def get_department_report(department_id: int, period_id: int):
    department, period = department_target(department_id, period_id)
    return jsonify(report_answer(find_report(period, department.region, department), period, department,
                                 clock.now()))


@bp.put("/departments/<int:department_id>/reports/<int:period_id>")
@token_required
def put_department_report(department_id: int, period_id: int):
    department, period = department_target(department_id, period_id, write=True)
    return _save(period, department.region, department,
                 lambda report: report_answer(report, period, department, clock.now()))


def _shape_errors(body) -> list[dict]:
    """The body's shape, before any rule: an object with the documented fields and types."""
    if not isinstance(body, dict):
        return [{"field": None, "message": "请求体应为JSON对象"}]
    problem = _unreadable(body)
    if problem:
        return [{"field": None, "message": problem}]
    errors = []
    if "values" in body and not isinstance(body["values"], dict):
        errors.append({"field": "values", "message": "values 应为对象（指标代码 → 整数）"})
    filer = body.get("filer")
    if filer is not None and not (isinstance(filer, dict) and all(
            isinstance(v, str) or v is None for v in filer.values())):
        errors.append({"field": "filer", "message": "filer 应为对象，其中 name、phone、head 为字符串"})
    if "submit" in body and not isinstance(body["submit"], bool):
        errors.append({"field": "submit", "message": "submit 应为 true 或 false"})
    if body.get("reason") is not None and not isinstance(body["reason"], str):
        errors.append({"field": "reason", "message": "reason 应为字符串"})
    revision = body.get("revision")
    if revision is not None and (isinstance(revision, bool) or not isinstance(revision, int)):
        errors.append({"field": "revision", "message": "revision 应为整数"})
    return errors


def _unreadable(body: dict) -> str | None:
    """Text no page or database can hold (a lone surrogate such as \\ud800), or nesting beyond any
    body of ours; walked without recursion, so that the walk itself cannot overflow."""
    stack = [(body, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > 16:
            return "请求体嵌套层级过深"
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "请求体含有无效的Unicode字符（不成对的代理项）"
        elif isinstance(value, dict):
            stack.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return None


@bp.get("/progress/<region_code>")
@token_required
def region_progress(region_code: str):
    region, tag = tagged_region(region_code, g.api_user, page=False)
    if (same := unchanged(tag)) is not None:
        return same
    period = period_for(region, id_arg("period"))
    measure = request.args.get("measure")
    if measure is not None and measure not in MEASURES:
        return error(400, f"measure 应为 {'、'.join(MEASURES)} 之一", "measure")
    answer = progress_json(cache.progress(period, region, measure))
    answer["departments"] = [d.as_json() for d in department_progress(period, region, clock.now())]
    return tagged(jsonify(answer), tag)


@bp.get("/circulars")
@token_required
def circular_list():
    code = request.args.get("region_code") or g.api_user.region.code
    region = load_region(code)
    if not (access.can_view(g.api_user, region)
            or (access.in_business(g.api_user) and region.contains(g.api_user.region))):
        abort(403, "无权查看该区划的通报")
    return jsonify([{"id": c.id, "number": c.doc_number, "title": c.title, "region_code": c.region.code,
                     "period_id": c.period_id, "issued_at": c.issued_at.isoformat()}
                    for c in addressed(g.api_user, region)])


@bp.get("/circulars/<int:circular_id>.pdf")
@token_required
def circular_pdf(circular_id: int):
    circular = db.session.get(Circular, circular_id)
    if circular is None or circular.status != "issued":
        abort(404, "没有该已印发的通报")
    if not access.can_read_circular(g.api_user, circular):
        abort(403, "该通报不是发给本单位的，无权查看")
    response = make_response(circular.pdf)
    response.headers["Content-Type"] = "application/pdf"
    return response


# --- 退回, 审核 and 催报 ------------------------------------------------------------------------

def _body() -> dict:
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        body = None
    if body is None and not request.get_data():
        body = {}
    if not isinstance(body, dict) or _unreadable(body):
        abort(400, "请求体应为JSON对象")
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        abort(422, "reason 应为字符串")
    return body


def _reviewed(run, current=None):
    """Run a review step in the request's transaction: the answer, or its error with nothing saved.
    A 409 carries `current`, the report as it now stands (as a PUT's conflict does), when the caller
    says how to read it: another reviewer may just have acted on it."""
    def conflict(message: str):
        db.session.rollback()
        if current is None:
            return error(409, message)
        return jsonify(errors=[{"field": None, "message": message}], current=current()), 409
    try:
        answer = run()
    except review.ReviewInvalid as invalid:
        db.session.rollback()
        return error(422, str(invalid), invalid.field)
    except review.ReviewRefused as refused:
        return conflict(str(refused))
    except review.OwnFiling as own:
        db.session.rollback()
        return error(403, own.description)
    except IntegrityError:
        return conflict("该报表刚被其他审核人员处理，请刷新后查看当前状态")
    try:
        db.session.commit()
    except IntegrityError:
        # another reviewer's step on the same report committed first: nothing of this one is kept
        return conflict("该报表刚被其他审核人员处理，请刷新后查看当前状态")
    return answer


@bp.post("/reports/<region_code>/<int:period_id>/return")
@token_required
def return_report(region_code: str, period_id: int):
    region, period = report_target(region_code, period_id)
    body = _body()
    return _reviewed(lambda: jsonify(report_json(review.act(period, region, "return", g.api_user, body.get("reason")),
                                                 period, region, clock.now())),
                     lambda: report_json(find_report(period, region), period, region, clock.now()))


@bp.post("/reports/<region_code>/<int:period_id>/approve")
@token_required
def approve_report(region_code: str, period_id: int):
    region, period = report_target(region_code, period_id)
    _body()
    return _reviewed(lambda: jsonify(report_json(review.act(period, region, "approve", g.api_user),
                                                 period, region, clock.now())),
                     lambda: report_json(find_report(period, region), period, region, clock.now()))


@bp.post("/departments/<int:department_id>/reports/<int:period_id>/return")
@token_required
def return_department_report(department_id: int, period_id: int):
    department, period = department_target(department_id, period_id)
    body = _body()
    return _reviewed(lambda: jsonify(report_answer(
        review.act(period, department.region, "return", g.api_user, body.get("reason"), department=department),
        period, department, clock.now())))


@bp.post("/departments/<int:department_id>/reports/<int:period_id>/approve")
@token_required
def approve_department_report(department_id: int, period_id: int):
    department, period = department_target(department_id, period_id)
    _body()
    return _reviewed(lambda: jsonify(report_answer(
        review.act(period, department.region, "approve", g.api_user, department=department),
        period, department, clock.now())))


@bp.post("/reviews/<region_code>/<int:period_id>")
@token_required
def review_all(region_code: str, period_id: int):
    region = load_region(region_code)
    access.require(g.api_user, region)
    period = load_period(period_id)
    if not period.campaign.covers(region):
        abort(404, f"{region.name}不在该征缴期范围内")
    body = _body()
    action = body.get("action")
    if action not in ("approve", "return"):
        return error(422, "action 应为 approve 或 return", "action")
    return _reviewed(lambda: jsonify(vars(review.act_all(period, region, action, g.api_user, body.get("reason")))))


@bp.post("/reminders")
@token_required
def send_reminders():
    body = _body()
    code, period_id = body.get("region_code"), body.get("period_id")
    if not isinstance(code, str) or isinstance(period_id, bool) or not isinstance(period_id, int):
        return error(422, "需要 region_code（字符串）和 period_id（整数）")
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        return error(422, "dry_run 应为 true 或 false", "dry_run")
    region = load_region(code)
    if not access.can_remind(g.api_user, region):
        abort(403, "只有上级审核单位可以催报")
    period = load_period(period_id)
    if not period.campaign.covers(region):
        abort(404, f"{region.name}不在该征缴期范围内")
    if dry_run:  # the 催报 that would go out now: nothing recorded, nothing sent
        drafted = reminders.drafts(period, region, g.api_user, clock.now())
        if not drafted:
            return error(409, f"{region.name}下各单位{period.label}均已提交，无需催报")
        return jsonify({"dry_run": True, "units": [d.as_json() for d in drafted]})
    sent = reminders.send(period, region, g.api_user)
    if sent is None:
        return error(409, f"{region.name}下各单位{period.label}均已提交，无需催报")
    db.session.commit()
    reminders.deliver(sent)
    db.session.expire_all()
    return jsonify(reminders.reminder_json(sent)), 201


@bp.get("/reminders")
@token_required
def list_reminders():
    region = load_region(request.args.get("region_code") or g.api_user.region.code)
    access.require(g.api_user, region)
    period = load_period(id_arg("period_id") or 0)
    if reminders.settle_stale():
        db.session.commit()
    return jsonify([reminders.reminder_json(r, messages) for r, messages in reminders.listed(period, region)])


#: entries per page of GET /audit
AUDIT_PAGE = 100


@bp.get("/audit")
@token_required
def audit_log():
    """The audit log, newest first, 100 a page: for the audit admin (and the city admin without
    三员分立). The audit admin's own reads are audited."""
    from reporting import audit
    from reporting.models import AuditEntry
    reader = g.api_user
    access.require_capability(reader, access.AUDIT)
    days = {}
    for name in ("since", "until"):
        raw = request.args.get(name, "").strip()
        try:
            days[name] = dt.date.fromisoformat(raw) if raw else None
        except ValueError:
            return error(422, f"{name} 应为日期 YYYY-MM-DD", name)
    raw_page = request.args.get("page", "").strip() or "1"
    if not (raw_page.isascii() and raw_page.isdigit() and 0 < int(raw_page) <= 10 ** 6):
        return error(422, "page 应为正整数", "page")
    page = int(raw_page)
    username, kind = request.args.get("user", "").strip()[:50], request.args.get("action", "").strip()[:40]
    query = audit.filtered(audit.scope(reader), since=days["since"], until=days["until"],
                           username=username, kind=kind)
    rows = db.session.scalars(query.options(joinedload(AuditEntry.region)).order_by(AuditEntry.id.desc())
                              .offset((page - 1) * AUDIT_PAGE).limit(AUDIT_PAGE + 1)).all()
    entries = [{"id": e.id, "at": e.at.isoformat(), "user": e.username, "action": e.kind,
                "detail": audit.detail(e), "region_code": e.region.code if e.region else None}
               for e in rows[:AUDIT_PAGE]]
    if reader.role == "audit_admin":
        audit.record("audit.read", reader, region=reader.region, target="审计日志（API）",
                     after={"filter": {k: request.args[k][:100] for k in ("since", "until", "user", "action", "page")
                                        if request.args.get(k)}, "count": len(entries)})
        db.session.commit()
    return jsonify(entries=entries, next_page=page + 1 if len(rows) > AUDIT_PAGE else None)


# --- 督办 (supervision items) ------------------------------------------------------------------

def _supervised(run, status: int = 200, tell: Optional[str] = None):
    """Run a supervision step in the request's transaction: the answer, or its error with nothing saved.
    With `tell`, the unit's robots then hear of it (after the commit: a slow robot holds no lock)."""
    try:
        item = run()
    except supervision.SupervisionInvalid as invalid:
        db.session.rollback()
        return error(422, str(invalid), invalid.field)
    except supervision.SupervisionRefused as refused:
        db.session.rollback()
        return error(409, str(refused))
    db.session.commit()
    if tell:
        supervision.notify(item, tell, reminders.robot_timeout(current_app.config))
        db.session.commit()
    return jsonify(supervision.item_json(item, clock.today(), figures=True)), status


def load_item(item_id: int) -> SupervisionItem:
    item = db.get_or_404(SupervisionItem, item_id, description=f"督办事项 {item_id} 不存在")
    if not access.can_read_supervision(g.api_user, item):
        abort(403, "无权查看该督办事项")
    return item


@bp.post("/supervision")
@token_required
def create_supervision():
    body = _body()
    code, department_id, period_id = body.get("region_code"), body.get("department_id"), body.get("period_id")
    if (code is None) == (department_id is None):
        return error(422, "需要 region_code 或 department_id 之一", "region_code")
    if isinstance(period_id, bool) or not isinstance(period_id, int):
        return error(422, "需要 period_id（整数）", "period_id")
    if department_id is not None and (isinstance(department_id, bool) or not isinstance(department_id, int)
                                      or not 0 < department_id < 2 ** 31):
        return error(422, "department_id 应为部门编号（整数）", "department_id")
    if code is not None and not isinstance(code, str):
        return error(422, "region_code 应为字符串", "region_code")
    region = load_region(code) if code is not None else None
    department = (db.get_or_404(Department, department_id, description=f"部门 {department_id} 不存在")
                  if department_id is not None else None)
    if not access.can_supervise(g.api_user, region, department):
        abort(403, "只有审核该单位报表的上级单位可以建立督办事项")
    period = load_period(period_id)
    return _supervised(lambda: supervision.create(
        g.api_user, period, kind=body.get("kind"), matter=body.get("matter"), due=body.get("due"),
        region=region, department=department, requirement=body.get("requirement") or "",
        interview=body.get("interview")), 201, tell="created")


@bp.get("/supervision")
@token_required
def list_supervision():
    region = load_region(request.args.get("region_code") or g.api_user.region.code)
    access.require(g.api_user, region)
    status = request.args.get("status") or None
    if status is not None and status not in (*supervision.STATUSES, "overdue"):
        return error(400, "status 应为 open、responded、closed 或 overdue", "status")
    today = clock.today()
    return jsonify([supervision.item_json(item, today) for item in supervision.items_about(region, status, today)])


@bp.get("/supervision/<int:item_id>")
@token_required
def get_supervision(item_id: int):
    item = load_item(item_id)
    return jsonify(supervision.item_json(item, clock.today(), figures=True))


@bp.post("/supervision/<int:item_id>/response")
@token_required
def respond_supervision(item_id: int):
    item = load_item(item_id)
    if not access.can_answer_supervision(g.api_user, item):
        abort(403, f"只有{item.subject_name}的填报人员可以报送整改报告")
    body = _body()
    return _supervised(lambda: supervision.respond(item, g.api_user, body.get("text"), body.get("measures") or "",
                                                   body.get("promise") or "").item)


@bp.post("/supervision/<int:item_id>/close")
@token_required
def close_supervision(item_id: int):
    item = load_item(item_id)
    if not access.can_supervise(g.api_user, item.region, item.department):
        abort(403, "只有督办单位可以销号")
    _body()
    return _supervised(lambda: supervision.close(item, g.api_user))


@bp.post("/supervision/<int:item_id>/reopen")
@token_required
def reopen_supervision(item_id: int):
    item = load_item(item_id)
    if not access.can_supervise(g.api_user, item.region, item.department):
        abort(403, "只有督办单位可以退回重新整改")
    body = _body()
    return _supervised(lambda: supervision.reopen(item, g.api_user, body.get("reason"), body.get("due")))
