"""What every blueprint's thin handlers share: rendering a page or its htmx fragment, redirecting
after a POST, reading ids from URLs, and the ETags of answers that can be confirmed (304)."""
from __future__ import annotations

import hashlib
from typing import Optional

from flask import abort, current_app, make_response, redirect, render_template, request, session
from flask_wtf.csrf import generate_csrf
from jinja2_fragments.flask import render_block

from reporting import access, clock, versions
from reporting.extensions import db
from reporting.models import Period, Region, User


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


def period_or_404(period_id: int, **options) -> Period:
    """The period of an id in a URL or a form, or a 404 that names it."""
    if not 0 < period_id <= MAX_ID:  # from a body or a query string: past the column's range it names nothing
        abort(404, f"报送期次 {period_id} 不存在")
    return db.get_or_404(Period, period_id, description=f"报送期次 {period_id} 不存在", **options)


def tagged_region(code: str, user: User, page: bool = True) -> tuple[Region, str]:
    """The region of `code` after the access check (404, 403), and the ETag of the answer this
    request asks about it: the region's versions (versions.stamp, the one statement read), the day
    (a unit becomes 逾期 when its due day passes), the code's digest, the URL with its query, the
    rendering (htmx fragment or page) and who asks (the page names them and carries their CSRF
    token: a `page` made for a browser's session; the API's answers carry none)."""
    region, stamped = versions.stamp(code)
    if region is None:
        abort(404, f"区划代码 {code} 不存在")
    access.require(user, region)
    parts = [stamped, clock.today().isoformat(), versions.deploy_digest(), request.path,
             "&".join(sorted(f"{k}={v}" for k, v in request.args.items(multi=True))),
             "fragment" if request.htmx else "page", user.id, user.role, user.region_id,
             user.department_id, user.username, user.full_name, _csrf_key() if page else ""]
    return region, hashlib.sha256("\n".join(map(str, parts)).encode()).hexdigest()[:32]


def _csrf_key() -> str:
    """The session's CSRF key, which the page's tokens are signed from (made now if the session has
    none yet, as the page would make it)."""
    generate_csrf()
    return session.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), "")


def unchanged(tag: str):
    """A 304 when the caller's copy carries `tag`, else None. A page with a message waiting to be
    shown (a flash) is rendered anew."""
    if not request.if_none_match.contains_weak(tag) or "_flashes" in session:
        return None
    return tagged(make_response("", 304), tag)


def tagged(response, tag: str):
    """`response` with its ETag: browsers keep it and ask again each time (private, no-cache)."""
    response.set_etag(tag)
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("HX-Request")
    return response
