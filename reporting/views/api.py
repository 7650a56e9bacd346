"""The JSON API of API.md, authenticated by bearer tokens."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, g, jsonify, make_response, request
from sqlalchemy import select

from .. import access, cache, clock
from ..extensions import db
from ..filing import (ReportConflict, ReportRejected, find_report, is_report_unit, report_json,
                      save_report)
from ..hierarchy import children, region_by_code
from ..ranking import MEASURES, progress_json
from . import period_for
from ..models import ApiToken, Campaign, Circular, Period

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
        found = db.session.scalar(select(ApiToken).where(ApiToken.digest == ApiToken.hash(token.strip())))
        if found is None or found.revoked_at is not None or not found.user.active:
            return error(401, "API令牌无效或已撤销")
        g.api_user = found.user
        return view(*args, **kwargs)
    return wrapped


def load_region(code: str):
    region = region_by_code(code)
    if region is None:
        abort(404, f"区划代码 {code} 不存在")
    return region


def campaign_visible(user, campaign: Campaign) -> bool:
    """A campaign is visible to whoever can see its root or whose region lies inside it."""
    return access.can_view(user, campaign.root) or campaign.root.contains(user.region)


@bp.get("/regions/<code>")
@token_required
def region(code: str):
    region = load_region(code)
    access.require(g.api_user, region)
    parent = region.parent
    return jsonify(code=region.code, name=region.name, level=region.level,
                   parent_code=parent.code if parent else None,
                   children=[{"code": c.code, "name": c.name, "level": c.level} for c in children(region)])


@bp.get("/campaigns/<int:campaign_id>/periods")
@token_required
def periods(campaign_id: int):
    campaign = db.get_or_404(Campaign, campaign_id, description=f"征缴期 {campaign_id} 不存在")
    if not campaign_visible(g.api_user, campaign):
        abort(403, "无权查看该征缴期")
    return jsonify([{"id": p.id, "label": p.label, "as_of": p.as_of.isoformat(),
                     "due": p.due.isoformat()} for p in campaign.periods])


def load_period(period_id: int) -> Period:
    return db.get_or_404(Period, period_id, description=f"报送期次 {period_id} 不存在")


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
                              revision=body.get("revision"))
    except ReportRejected as rejected:
        db.session.rollback()
        return jsonify(errors=[e.as_json() for e in rejected.errors],
                       warnings=[w.as_json() for w in rejected.warnings]), 422
    except ReportConflict as conflict:
        db.session.rollback()
        current = find_report(period, region)
        return jsonify(errors=[{"field": None, "message": str(conflict)}],
                       current=report_json(current, period, region, clock.now())), 409
    # the answer from what was just flushed: after the commit every row would be read again
    answer = report_json(outcome.report, period, region, clock.now())
    answer["warnings"] = [w.as_json() for w in outcome.warnings]
    db.session.commit()
    return jsonify(answer)


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
    region = load_region(region_code)
    access.require(g.api_user, region)
    period = period_for(region, request.args.get("period", type=int))
    measure = request.args.get("measure")
    if measure is not None and measure not in MEASURES:
        return error(400, f"measure 应为 {'、'.join(MEASURES)} 之一", "measure")
    return jsonify(progress_json(cache.progress(period, region, measure)))


@bp.get("/circulars/<int:circular_id>.pdf")
@token_required
def circular_pdf(circular_id: int):
    circular = db.session.get(Circular, circular_id)
    if circular is None or circular.status != "issued":
        abort(404, "没有该已印发的通报")
    access.require(g.api_user, circular.region)
    response = make_response(circular.pdf)
    response.headers["Content-Type"] = "application/pdf"
    return response
