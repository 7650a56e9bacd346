"""The region browser: drill down the tree inside the user's subtree."""
from __future__ import annotations

from flask import Blueprint
from flask_login import current_user, login_required

from reporting import access
from reporting.hierarchy import children
from reporting.views import page_or_fragment, region_or_404

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
