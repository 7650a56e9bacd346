"""The region browser: drill down the tree inside the user's subtree."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required
from jinja2_fragments.flask import render_block

from .. import access
from ..hierarchy import children, region_by_code

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
    if request.htmx:
        response = render_block("regions/show.html", "children", **context)
    else:
        response = render_template("regions/show.html", **context)
    return response, {"Vary": "HX-Request"}
