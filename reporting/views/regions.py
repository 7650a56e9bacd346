"""The region browser: drill down the tree inside the user's subtree."""
from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user, login_required

from .. import access
from ..hierarchy import children, region_by_code
from . import page_or_fragment

bp = Blueprint("regions", __name__, url_prefix="/regions")


@bp.get("/<code>")
@login_required
def show(code: str):
    region = region_by_code(code)
    if region is None:
        abort(404, f"区划代码 {code} 不存在")
    access.require(current_user, region)
    top = current_user.region
    trail = [r for r in region.ancestors() if top.contains(r)]
    context = dict(region=region, trail=trail, children=children(region))
    return page_or_fragment("regions/show.html", "children", context)
