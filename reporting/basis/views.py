"""The page where a 管理员 loads the information system's figures of a period (信息系统数据)."""
from __future__ import annotations

import hashlib

from flask import Blueprint, abort, flash, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select

from forms.system_figures import SystemFiguresForm
from reporting import access
from reporting.basis.system_figures import BASES, import_figures
from reporting.extensions import db
from reporting.models import Period, SystemFigure
from reporting.spreadsheets import TableError, read_table
from reporting.tables import ImportRejected
from reporting.web import go_to, page_or_fragment

bp = Blueprint("system_figures", __name__)


def _load(period_id: int) -> Period:
    period = db.get_or_404(Period, period_id, description=f"报送期次 {period_id} 不存在")
    if not access.can_load_system_figures(current_user, period.campaign.root):
        abort(403, "只有覆盖整个征缴期的市级管理员可以导入信息系统数据")
    return period


def _context(period: Period, form: SystemFiguresForm, **extra) -> dict:
    stored = db.session.execute(
        select(func.count(SystemFigure.id), func.count(SystemFigure.id).filter(SystemFigure.own),
               func.max(SystemFigure.at), func.max(SystemFigure.imported_at))
        .where(SystemFigure.period_id == period.id)).one()
    return dict(period=period, campaign=period.campaign, form=form, stored=stored, bases=BASES,
                labels={i.key: i.label for i in period.campaign.indicators},
                **{"problems": [], "warnings": [], **extra})


@bp.get("/system-figures/<int:period_id>")
@login_required
def show(period_id: int):
    period = _load(period_id)
    return page_or_fragment("system_figures/show.html", "upload", _context(period, SystemFiguresForm()))


@bp.post("/system-figures/<int:period_id>")
@login_required
def upload(period_id: int):
    period = _load(period_id)
    form = SystemFiguresForm()
    if not form.validate():
        return page_or_fragment("system_figures/show.html", "upload", _context(period, form), 422)
    upload_file = form.export.data
    try:
        data = upload_file.read()
        header, body = read_table(data, filename=upload_file.filename)
        result = import_figures(period, header, body, user=current_user,
                                source={"file": upload_file.filename or "", "sha256": hashlib.sha256(data).hexdigest()})
    except (ImportRejected, TableError) as error:
        db.session.rollback()
        problems = getattr(error, "errors", None) or [str(error)]
        return page_or_fragment("system_figures/show.html", "upload",
                                _context(period, form, problems=problems), 422)
    db.session.commit()
    flash(f"已导入{period.label}的信息系统数据：{result.rows:,}行，{result.units:,}个单位"
          f"（其中{result.summed:,}个由下级合计）；警告{len(result.warnings):,}条"
          + ("：" + "；".join(str(w) for w in result.warnings[:5]) if result.warnings else ""))
    return go_to(url_for("system_figures.show", period_id=period.id))
