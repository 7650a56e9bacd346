"""A report's review as its writers meet it: its state, its lock, a returned report's edits held
aside until it is resubmitted, and the review steps shown beside its history. Every write path
(filing.judge) and every page that shows a report read the review through here; review.py holds
the reviewers' actions, which change it.
"""
from __future__ import annotations

from typing import Iterable, Optional

from sqlalchemy import or_, select

from reporting.extensions import db
from reporting.models import Period, Region, Report, Review, ReviewAction
from reporting.regions.hierarchy import descendants_at

#: a resubmission needs no reason of its own: the return said what to fix
RESUBMIT_REASON = "按退回意见修改后重新提交"


def review_of(report: Optional[Report]) -> Optional[Review]:
    return report.review if report is not None else None


def status(report: Optional[Report]) -> str:
    """missing, draft, submitted (awaiting review), returned or approved."""
    if report is None:
        return "missing"
    if report.status != "submitted":
        return report.status
    review = report.review
    return review.state if review is not None and review.state else "submitted"


def is_locked(report: Optional[Report]) -> bool:
    review = review_of(report)
    return bool(review is not None and review.locked)


def lock_message(report: Report) -> str:
    return locked_because(report.review.state)


def locked_because(state: Optional[str]) -> str:
    """What a writer is told about a locked report, on every path (grid, upload, import, API)."""
    if state == "approved":
        return "该报表已审核通过并锁定，如需修改请联系审核单位退回"
    return "该报表的数据已在通报中印发并锁定，如需修改请联系审核单位退回"


def review_json(report: Optional[Report]) -> Optional[dict]:
    review = review_of(report)
    if review is None or review.state is None:
        return None
    return {"state": review.state, "reason": review.reason,
            "by": (review.by.full_name or review.by.username) if review.by else None,
            "at": review.at.isoformat() if review.at else None}


def hold(report: Report, values: dict, filer: dict) -> None:
    """Keep a returned report's edits aside until it is resubmitted: the counted values stay."""
    report.review.pending = {"values": values, "filer": filer}


def pending_values(report: Optional[Report]) -> Optional[dict]:
    review = review_of(report)
    if review is None or review.state != "returned" or not review.pending:
        return None
    return review.pending.get("values")


def shown_values(report: Optional[Report], indicators) -> dict:
    """What the filer's grid shows: a returned report's edits in progress, else its values."""
    if report is None:
        return {}
    return {**report.values(indicators), **(pending_values(report) or {})}


def pending_codes(period: Period, region: Region) -> dict[str, dict]:
    """unit code -> the edits held for its returned report, for the report-level units under `region`."""
    units = descendants_at(region, period.campaign.report_level).with_only_columns(Region.id)
    rows = db.session.execute(select(Region.code, Review.pending).join(Report, Report.region_id == Region.id)
                              .join(Review, Review.report_id == Report.id)
                              .where(Report.period_id == period.id, Report.region_id.in_(units),
                                     Review.state == "returned", Review.pending.is_not(None)))
    return {row[0]: (row[1] or {}).get("values") or {} for row in rows}


def resubmitted(report_ids: Iterable[int]) -> None:
    """The filer resubmitted these returned reports: they await review again."""
    ids = list(report_ids)
    if ids:
        db.session.execute(Review.__table__.update().where(Review.report_id.in_(ids))
                           .values(state=None, pending=None))


def states_in(period: Period, region_ids) -> dict[int, tuple[Optional[str], bool]]:
    """report id -> (review state, locked) for the reports of `period` among the units `region_ids`
    (a select) that are returned, approved or locked: the few an import must treat apart."""
    rows = db.session.execute(
        select(Review.report_id, Review.state, Review.published_lock).join(Report, Report.id == Review.report_id)
        .where(Report.period_id == period.id, Report.region_id.in_(region_ids),
               or_(Review.state.is_not(None), Review.published_lock.is_(True))))
    return {row[0]: (row[1], Review.locks(row[1], row[2])) for row in rows}


def actions_of(report: Optional[Report]) -> list[ReviewAction]:
    """The review steps on one report (a department's, on its history page), newest first."""
    if report is None:
        return []
    return list(db.session.scalars(select(ReviewAction).where(ReviewAction.report_id == report.id)
                                   .order_by(ReviewAction.at.desc(), ReviewAction.id.desc())))


def actions_under(period: Period, region: Region, limit: int = 500) -> list[ReviewAction]:
    """The review steps on the reports of the units under `region` for a period, newest first."""
    units = descendants_at(region, period.campaign.report_level).with_only_columns(Region.id)
    return list(db.session.scalars(
        select(ReviewAction).join(Report, Report.id == ReviewAction.report_id)
        .where(Report.period_id == period.id, Report.region_id.in_(units))
        .order_by(ReviewAction.at.desc(), ReviewAction.id.desc()).limit(limit)))
