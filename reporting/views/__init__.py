"""The web blueprints: thin handlers that load, check access, validate, call the domain and respond."""
from __future__ import annotations

from typing import Optional

from flask import abort, make_response, redirect, render_template, request
from jinja2_fragments.flask import render_block

from .. import clock
from ..campaigns import campaigns_for
from ..extensions import db
from ..hierarchy import region_by_code
from ..models import Period, Region
from ..schedule import current_period


def page_or_fragment(template: str, block: str, context: dict, status: int = 200):
    """One URL, two renderings: the whole page, or only `block` for an htmx request."""
    if request.htmx:
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def go_to(target: str):
    """After a successful POST: htmx is told to load `target` as a whole page (HX-Redirect on an
    empty 204), a plain form is sent there with a 303."""
    if request.htmx:
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, code=303)


def commit_keeping_rows() -> None:
    """Commit without expiring the session's rows: an answer to a save shows the rows the request
    read or wrote (the period, the units, the report) and sums it reads afresh, so reading each
    row again after the commit would only repeat what the session holds."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


#: the largest id an INTEGER column holds (the <int:…> URL parts stop there too)
MAX_ID = 2 ** 31 - 1


def id_arg(name: str) -> Optional[int]:
    """A row id from the query string: None when absent, 404 when it cannot name a row (text, zero,
    past the column's range), rather than an overflow deep in a query."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_ID):
        abort(404, f"参数 {name} 不是有效的编号")
    return int(raw)


def region_or_404(code: str) -> Region:
    """The unit a division code in a URL or a form names, or a 404 that names the code. Every loader
    reads regions through it (and then checks access, with `access.require`)."""
    region = region_by_code(code)
    if region is None:
        abort(404, f"区划代码 {code} 不存在")
    return region


def period_or_404(period_id: int, **options) -> Period:
    """The period of an id in a URL or a form, or a 404 that names it."""
    if not 0 < period_id <= MAX_ID:  # from a body or a query string: past the column's range it names nothing
        abort(404, f"报送期次 {period_id} 不存在")
    return db.get_or_404(Period, period_id, description=f"报送期次 {period_id} 不存在", **options)


def period_for(region: Region, period_id: Optional[int]) -> Period:
    """The period asked for (404 if unknown), or the current one of the region's latest campaign;
    either way one whose campaign covers the region."""
    if period_id:
        period = period_or_404(period_id)
    else:
        campaigns = campaigns_for(region)
        if not campaigns:
            abort(404, f"{region.name}目前没有征缴期")
        period = current_period(campaigns[0], clock.today())
    campaign = period.campaign
    if not campaign.covers(region):
        abort(404, f"{region.name}不在该征缴期范围内")
    return period
