"""The region browser: drill down the tree inside the user's subtree."""
from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user, login_required

from reporting import access
from reporting.models import Region
from reporting.regions.hierarchy import children, region_by_code
from reporting.web import page_or_fragment

bp = Blueprint("regions", __name__, url_prefix="/regions")


@bp.get("/<code>")
@login_required
def show(code: str):
    region = region_or_404(code)
    access.require(current_user, region)
    top = current_user.region
    trail = [r for r in region.ancestors() if top.contains(r)]
    context = dict(region=region, trail=trail, children=children(region))
    return page_or_fragment("regions/show.html", "children", context)


def region_or_404(code: str) -> Region:
    """The unit a division code in a URL or a form names, or a 404 that names the code. Every loader
    reads regions through it (and then checks access, with `access.require`)."""
    region = region_by_code(code)
    if region is None:
        abort(404, f"区划代码 {code} 不存在")
    return region
