"""The JSON API of API.md, authenticated by bearer tokens."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy import select

from .. import access
from ..extensions import db
from ..hierarchy import children, region_by_code
from ..models import ApiToken, Campaign

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
