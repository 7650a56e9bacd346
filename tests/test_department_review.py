"""A department's 退回, 审核通过, publication lock and 催报, through the same code as a unit's."""
import datetime as dt

from sqlalchemy import func, select

from reporting.extensions import db
from reporting.models import AuditEntry, Review, ReviewAction

from .fixtures.departments import DEPARTMENT_PASSWORD, FILER

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


def test_only_the_city_admin_above_reviews_and_a_return_needs_a_reason(county_api):
    submit(county_api)
    for reason in (None, "", "   "):
        refused = back(county_api, reason)
        assert refused.status_code == 422, refused.get_json()
        assert refused.get_json()["errors"][0]["field"] == "reason"
    # its own filer, another department's, the county's and a town's filer, a viewer: none reviews it
    for user in ("minzheng", "jiaoyu", "xinhui", "shadui", "boss"):
        assert back(county_api, "数字有误", user=user).status_code == 403, user
        assert approve(county_api, user=user).status_code == 403, user
    nothing = back(county_api, "数字有误", name="区教育局")  # it has filed nothing
    assert nothing.status_code == 409 and "区教育局" in nothing.get_json()["errors"][0]["message"]
    assert db.session.scalar(select(func.count()).select_from(Review)) == 0


def test_return_resubmit_approve_then_the_filer_is_locked_out(county_api):
    submit(county_api)
    returned = back(county_api, "困难群众应参保人数与民政台账不符，请核实")
    body = returned.get_json()
    assert returned.status_code == 200, body
    assert body["status"] == "returned" and body["department_id"] == county_api.ids["区民政局"]
    assert body["review"]["reason"] == "困难群众应参保人数与民政台账不符，请核实" and body["locked"] is False
    # the filer reads it back: 已退回 with the reason
    seen = county_api.call("GET", county_api.dept_url("区民政局"), "minzheng").get_json()
    assert seen["status"] == "returned" and seen["review"]["reason"].startswith("困难群众应参保人数")
    # approving a returned report is refused until it is resubmitted
    assert approve(county_api).status_code == 409
    # a resubmission needs no reason of its own and is a new revision awaiting review
    again = county_api.call("PUT", county_api.dept_url("区民政局"), "minzheng",
                        {"values": {"hardship_should": 880}, "submit": True})
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["status"] == "submitted" and again.get_json()["revision"] == 2
    assert again.get_json()["values"]["hardship_should"] == 880
    approved = approve(county_api)
    assert approved.status_code == 200
    assert approved.get_json()["status"] == "approved" and approved.get_json()["locked"] is True
    locked = county_api.call("PUT", county_api.dept_url("区民政局"), "minzheng",
                         {"values": {"hardship_enrolled": 875}, "reason": "补录"})
    assert locked.status_code == 409 and "审核通过并锁定" in locked.get_json()["errors"][0]["message"]
    # a reviewer reopens it with a 退回; the filer may then correct it
    assert back(county_api, "重新打开：请补录").status_code == 200
    assert county_api.call("PUT", county_api.dept_url("区民政局"), "minzheng",
                       {"values": {"hardship_enrolled": 875}, "submit": True}).status_code == 200
    steps = db.session.scalars(select(ReviewAction.action).order_by(ReviewAction.id)).all()
    assert steps == ["return", "approve", "return"]
    kinds = db.session.scalars(select(AuditEntry.kind).where(AuditEntry.kind.in_(
        ("report.return", "report.approve", "report.resubmit"))).order_by(AuditEntry.id)).all()
    assert kinds == ["report.return", "report.resubmit", "report.approve", "report.return", "report.resubmit"]


def test_an_issued_circular_locks_the_departments_submitted_reports(county_api, runner, frozen_now):
    submit(county_api)
    frozen_now(dt.datetime(2022, 10, 9, 9, 0))  # after period 1's due day: 区教育局 is late
    result = runner.invoke(args=["circulars", "issue", "--region", "440705", "--period",
                                 str(county_api.periods[0].id), "--by", "admin"])
    assert result.exit_code == 0, result.output
    report = county_api.call("GET", county_api.dept_url("区民政局"), "minzheng").get_json()
    assert report["locked"] is True and report["status"] == "submitted"
    refused = county_api.call("PUT", county_api.dept_url("区民政局"), "minzheng",
                          {"values": {"hardship_enrolled": 880}, "reason": "补录"})
    assert refused.status_code == 409 and "通报" in refused.get_json()["errors"][0]["message"]
    # a department that had not filed still can (迟报), unlocked
    late = submit(county_api, "区教育局", "jiaoyu", {"students_enrolled": 4000, "college_enrolled": 12})
    assert late["late"] is True and late["locked"] is False
    # the reviewer reopens the printed one; the filer then corrects it
    frozen_now(dt.datetime(2022, 10, 10, 9, 0))
    assert back(county_api, "数据有误，请更正").status_code == 200
    fixed = county_api.call("PUT", county_api.dept_url("区民政局"), "minzheng",
                        {"values": {"hardship_enrolled": 880}, "submit": True})
    assert fixed.status_code == 200 and fixed.get_json()["locked"] is False
    # the next 通报 says so: 通报后更正 and 通报后补报, departments by name
    from reporting.regions.hierarchy import region_by_code
    from reporting.review import review
    lines = review.publication_lines(county_api.periods[1], region_by_code("440705"))
    assert lines[0] == "第1期通报后，区民政局更正了已通报的数据，本期通报以更正后的数据为准。"
    assert lines[1] == "第1期通报后，区教育局补报了第1期（截至10月7日）的数据。"


def test_chasing_includes_the_departments_with_something_outstanding(county_api, app, runner, auth, client):
    from .fixtures.robots import Robot
    app.config.update(WEBHOOK_ATTEMPTS=2, WEBHOOK_TIMEOUT=0.5, WEBHOOK_RETRY_SECONDS=(0,))
    submit(county_api)  # 区民政局 has filed: not chased
    draft = county_api.call("PUT", county_api.dept_url("区教育局"), "jiaoyu", {"values": {"students_enrolled": 4000}})
    assert draft.status_code == 200 and draft.get_json()["status"] == "draft"
    robot = Robot()
    # the local robot, allowed explicitly (its host and port listed, private addresses opted in)
    app.config.update(WEBHOOK_HOSTS=f"http://127.0.0.1:{robot.server.server_port}", WEBHOOK_ALLOW_PRIVATE=True)
    try:
        hooked = runner.invoke(args=["users", "webhook", "shuiwu", "--kind", "wecom",
                                     "--url", f"{robot.url}/cgi-bin/webhook/send?key=sw"])
        assert hooked.exit_code == 0, hooked.output
        sent = county_api.call("POST", "/api/v1/reminders", "admin",
                           {"region_code": "440705", "period_id": county_api.periods[0].id})
        assert sent.status_code == 201, sent.get_json()
        units = {u["name"]: u for u in sent.get_json()["units"]}
    finally:
        robot.close()
    assert "区民政局" not in units
    tax, school = units["区税务局"], units["区教育局"]
    # 2022年10月5日, period 1 due on 10月8日 (a 调休 working Saturday)
    assert tax["text"].startswith("【催报】区税务局：第1期参保进度表报送截止10月8日（还有3天），尚未报送，请于截止前报送。")
    assert school["text"].startswith("【催报】区教育局：第1期参保进度表报送截止10月8日（还有3天），尚未提交，")
    assert tax["department_id"] == county_api.ids["区税务局"] and tax["code"] == f"BM{county_api.ids['区税务局']}"
    assert tax["outstanding"] == 1
    # the 税务局's robot took it; the 教育局 has none
    assert tax["channels"] == [{"kind": "wecom", "outcome": "sent", "attempts": 1, "error": ""}]
    assert school["channels"] == []
    assert [(path, body["text"]["content"]) for path, body in robot.calls] == [
        ("/cgi-bin/webhook/send?key=sw", tax["text"])]
    # recorded and listed under the region, beside the towns chased
    listed = county_api.call("GET", f"/api/v1/reminders?region_code=440705&period_id={county_api.periods[0].id}",
                         "admin").get_json()
    assert {"区税务局", "区教育局"} <= {u["name"] for u in listed[0]["units"]}
    assert any(u["name"] == "沙堆镇" for u in listed[0]["units"])
    # the status board says who was chased, departments beside the towns
    auth.login("admin")
    page = client.get(f"/reminders/440705?period={county_api.periods[0].id}").get_data(as_text=True)
    assert "区税务局：未报送" in page and "区教育局：草稿未提交" in page and "区民政局：" not in page
    assert tax["text"] in page  # the text to copy
    board = client.get(f"/dashboard/440705?period={county_api.periods[0].id}").get_data(as_text=True)
    tax_item = board[board.index("区税务局", board.index("status-board")):]
    assert "已催报1次" in tax_item[:tax_item.index("</li>")]
    auth.logout()
    # the 税务局's filer finds it on its home page; the 民政局's does not
    auth.login("shuiwu", DEPARTMENT_PASSWORD)
    assert tax["text"] in client.get("/").get_data(as_text=True)
    auth.logout()
    auth.login("minzheng", DEPARTMENT_PASSWORD)
    assert "【催报】" not in client.get("/").get_data(as_text=True)


def test_a_returned_department_is_chased_as_such(county_api):
    submit(county_api)
    assert back(county_api, "请核实").status_code == 200
    sent = county_api.call("POST", "/api/v1/reminders", "admin",
                       {"region_code": "440705", "period_id": county_api.periods[0].id}).get_json()
    text = next(u["text"] for u in sent["units"] if u["name"] == "区民政局")
    assert "区民政局：第1期参保进度表报送截止10月8日" in text and "报表已退回，尚未重新提交" in text


def test_review_page_returns_and_approves_and_the_filer_sees_it(county_api, auth, client):
    submit(county_api)
    period = county_api.periods[0].id
    auth.login("admin")
    home = client.get("/").get_data(as_text=True)  # the city admin's to-do leads to the 区's review page
    assert "新会区有1个部门的报表待审核" in home and f"/review/440705?period={period}" in home
    page = client.get(f"/review/440705?period={period}").get_data(as_text=True)
    assert "部门（条线）报表" in page and "区民政局" in page and "待审核" in page
    url = f"/review/440705/{period}/departments/{county_api.ids['区民政局']}"
    no_reason = client.post(url, data={"action": "return", "reason": ""})
    assert no_reason.status_code == 422 and "退回须填写原因" in no_reason.get_data(as_text=True)
    done = client.post(url, data={"action": "return", "reason": "低保人数与台账不符"})
    assert done.status_code == 303
    auth.logout()
    auth.login("minzheng", DEPARTMENT_PASSWORD)
    home = client.get("/").get_data(as_text=True)
    assert "报表已退回，请修改后重新提交" in home and "退回原因：低保人数与台账不符" in home
    grid = client.get(f"/departments/{county_api.ids['区民政局']}/{period}").get_data(as_text=True)
    assert "已退回" in grid and "退回原因：低保人数与台账不符" in grid and "重新提交" in grid
    history = client.get(f"/departments/{county_api.ids['区民政局']}/{period}/history").get_data(as_text=True)
    assert "审核记录" in history and "低保人数与台账不符" in history
    # a department filer reviews nothing, not even its own report
    assert client.post(url, data={"action": "approve"}).status_code == 403
    auth.logout()
    auth.login("xinhui")  # the county's filer files its towns; the city reviews the departments
    assert client.post(url, data={"action": "approve"}).status_code == 403


def test_automatic_reminders_reach_the_departments_once(county_api, frozen_now):
    from reporting.models import ReminderMessage
    from reporting.reminders.reminders import send_due
    submit(county_api)
    county_api.campaign.auto_remind_hours = 24
    db.session.commit()
    frozen_now(dt.datetime(2022, 10, 8, 9, 0))  # within 24 hours of period 1's deadline
    send_due()
    send_due()  # a second worker, or the next run: nobody is chased twice
    db.session.commit()
    chased = db.session.scalars(select(ReminderMessage.department_id)
                                .where(ReminderMessage.department_id.is_not(None))).all()
    assert sorted(chased) == sorted([county_api.ids["区教育局"], county_api.ids["区税务局"]])
