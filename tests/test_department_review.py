"""A department's 退回, 审核通过, publication lock and 催报, through the same code as a unit's."""
import datetime as dt

from sqlalchemy import func, select

from reporting.extensions import db
from reporting.models import AuditEntry, Review, ReviewAction

from .test_departments import FILER, county  # noqa: F401  (the fixture: 新会区 with three departments)

HARDSHIP = {"hardship_should": 900, "hardship_enrolled": 870}


def submit(county, name="区民政局", user="minzheng", values=HARDSHIP, period=0):
    answer = county.call("PUT", county.dept_url(name, period), user,
                         {"values": values, "filer": FILER, "submit": True})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def back(county, reason, name="区民政局", user="admin"):
    return county.call("POST", county.dept_url(name) + "/return", user,
                       {"reason": reason} if reason is not None else {})


def approve(county, name="区民政局", user="admin"):
    return county.call("POST", county.dept_url(name) + "/approve", user)


def test_only_the_city_admin_above_reviews_and_a_return_needs_a_reason(county):
    submit(county)
    for reason in (None, "", "   "):
        refused = back(county, reason)
        assert refused.status_code == 422, refused.get_json()
        assert refused.get_json()["errors"][0]["field"] == "reason"
    # its own filer, another department's, the county's and a town's filer, a viewer: none reviews it
    for user in ("minzheng", "jiaoyu", "xinhui", "shadui", "boss"):
        assert back(county, "数字有误", user=user).status_code == 403, user
        assert approve(county, user=user).status_code == 403, user
    nothing = back(county, "数字有误", name="区教育局")  # it has filed nothing
    assert nothing.status_code == 409 and "区教育局" in nothing.get_json()["errors"][0]["message"]
    assert db.session.scalar(select(func.count()).select_from(Review)) == 0


def test_return_resubmit_approve_then_the_filer_is_locked_out(county):
    submit(county)
    returned = back(county, "困难群众应参保人数与民政台账不符，请核实")
    body = returned.get_json()
    assert returned.status_code == 200, body
    assert body["status"] == "returned" and body["department_id"] == county.ids["区民政局"]
    assert body["review"]["reason"] == "困难群众应参保人数与民政台账不符，请核实" and body["locked"] is False
    # the filer reads it back: 已退回 with the reason
    seen = county.call("GET", county.dept_url("区民政局"), "minzheng").get_json()
    assert seen["status"] == "returned" and seen["review"]["reason"].startswith("困难群众应参保人数")
    # approving a returned report is refused until it is resubmitted
    assert approve(county).status_code == 409
    # a resubmission needs no reason of its own and is a new revision awaiting review
    again = county.call("PUT", county.dept_url("区民政局"), "minzheng",
                        {"values": {"hardship_should": 880}, "submit": True})
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["status"] == "submitted" and again.get_json()["revision"] == 2
    assert again.get_json()["values"]["hardship_should"] == 880
    approved = approve(county)
    assert approved.status_code == 200
    assert approved.get_json()["status"] == "approved" and approved.get_json()["locked"] is True
    locked = county.call("PUT", county.dept_url("区民政局"), "minzheng",
                         {"values": {"hardship_enrolled": 875}, "reason": "补录"})
    assert locked.status_code == 409 and "审核通过并锁定" in locked.get_json()["errors"][0]["message"]
    # a reviewer reopens it with a 退回; the filer may then correct it
    assert back(county, "重新打开：请补录").status_code == 200
    assert county.call("PUT", county.dept_url("区民政局"), "minzheng",
                       {"values": {"hardship_enrolled": 875}, "submit": True}).status_code == 200
    steps = db.session.scalars(select(ReviewAction.action).order_by(ReviewAction.id)).all()
    assert steps == ["return", "approve", "return"]
    kinds = db.session.scalars(select(AuditEntry.kind).where(AuditEntry.kind.in_(
        ("report.return", "report.approve", "report.resubmit"))).order_by(AuditEntry.id)).all()
    assert kinds == ["report.return", "report.resubmit", "report.approve", "report.return", "report.resubmit"]


def test_an_issued_circular_locks_the_departments_submitted_reports(county, runner, frozen_now):
    submit(county)
    frozen_now(dt.datetime(2022, 10, 9, 9, 0))  # after period 1's due day: 区教育局 is late
    result = runner.invoke(args=["circulars", "issue", "--region", "440705", "--period",
                                 str(county.periods[0].id), "--by", "admin"])
    assert result.exit_code == 0, result.output
    report = county.call("GET", county.dept_url("区民政局"), "minzheng").get_json()
    assert report["locked"] is True and report["status"] == "submitted"
    refused = county.call("PUT", county.dept_url("区民政局"), "minzheng",
                          {"values": {"hardship_enrolled": 880}, "reason": "补录"})
    assert refused.status_code == 409 and "通报" in refused.get_json()["errors"][0]["message"]
    # a department that had not filed still can (迟报), unlocked
    late = submit(county, "区教育局", "jiaoyu", {"students_enrolled": 4000, "college_enrolled": 12})
    assert late["late"] is True and late["locked"] is False
    # the reviewer reopens the printed one; the filer then corrects it
    assert back(county, "数据有误，请更正").status_code == 200
    fixed = county.call("PUT", county.dept_url("区民政局"), "minzheng",
                        {"values": {"hardship_enrolled": 880}, "submit": True})
    assert fixed.status_code == 200 and fixed.get_json()["locked"] is False
