"""GET and PUT /api/v1/reports: drafts, submission, 422, 409, reasons, revisions, late marks."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from reporting.campaigns.campaigns import create_campaign
from reporting.extensions import db
from reporting.filing.filing import history
from reporting.models import Region, Report, Revision
from reporting.regions.hierarchy import descendants_at, region_by_code

from .conftest import make_user

FILER = {"name": "黄丽华", "phone": "13802216103", "head": "张局长"}
VALUES = {"population": 3000, "should_enroll": 2600, "enrolled": 2000, "hardship_should": 80,
          "hardship_enrolled": 78, "students_enrolled": 400, "newborns_enrolled": 20, "college_enrolled": 0}


@pytest.fixture
def setup(client, runner, jiangmen, frozen_now):
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), extend_to=dt.date(2023, 2, 28),
                                  first_due=dt.date(2022, 10, 1))
    db.session.commit()
    tokens = {}
    for name, role, region in (("xinhui", "county_filer", "440705"), ("pengjiang", "county_filer", "440703"),
                               ("boss", "viewer", "4407"), ("admin", "city_admin", "4407")):
        make_user(name, role, region)
        tokens[name] = runner.invoke(args=["users", "token", name]).stdout.strip().splitlines()[-1]
    xinhui_village = db.session.scalars(descendants_at(region_by_code("440705"), "village")
                                        .order_by(Region.code)).first()
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))  # before period 1's due date, 10月8日

    class Setup:
        pass
    s = Setup()
    s.campaign, s.periods, s.village, s.tokens = campaign, campaign.periods, xinhui_village, tokens
    s.url = lambda period=0, code=None: f"/api/v1/reports/{code or xinhui_village.code}/{campaign.periods[period].id}"

    def put(body, user="xinhui", period=0, code=None):
        return client.put(s.url(period, code), json=body, headers={"Authorization": f"Bearer {tokens[user]}"})

    def get(user="xinhui", period=0, code=None):
        return client.get(s.url(period, code), headers={"Authorization": f"Bearer {tokens[user]}"})
    s.put, s.get = put, get
    return s


def reports():
    return db.session.scalar(select(func.count(Report.id)))


def test_missing_report_before_due(setup):
    body = setup.get().get_json()
    assert body == {"region_code": setup.village.code, "period_id": setup.periods[0].id, "status": "missing",
                    "values": {}, "filer": {"name": "", "phone": "", "head": ""}, "submitted_at": None,
                    "late": False, "revision": 0, "review": None, "locked": False}


def test_draft_then_submit_on_time(setup):
    draft = setup.put({"values": {"enrolled": 100}, "submit": False})
    assert draft.status_code == 200, draft.get_json()
    assert draft.get_json()["status"] == "draft" and draft.get_json()["revision"] == 1
    answer = setup.put({"values": VALUES, "filer": FILER, "submit": True, "revision": 1})
    body = answer.get_json()
    assert answer.status_code == 200, body
    assert body["status"] == "submitted" and body["values"] == VALUES and body["filer"] == FILER
    assert body["submitted_at"] == "2022-10-05T10:00:00" and body["late"] is False
    assert body["revision"] == 2 and body["warnings"] == []
    assert setup.get().get_json()["values"]["enrolled"] == 2000


def test_submission_after_the_shifted_due_is_late(setup, frozen_now):
    frozen_now(dt.datetime(2022, 10, 8, 23, 59))  # 10月1日 shifted to 10月8日: still on time
    assert setup.put({"values": VALUES, "filer": FILER, "submit": True}).get_json()["late"] is False
    frozen_now(dt.datetime(2022, 10, 18, 8, 0))  # period 2 was due 10月15日, shifted to 10月17日
    late = setup.put({"values": {**VALUES, "enrolled": 2100}, "filer": FILER, "submit": True}, period=1)
    assert late.get_json()["late"] is True
    assert setup.get(period=2).get_json()["late"] is False  # period 3 not yet due


def test_never_submitted_after_due_is_missing_and_late(setup, frozen_now):
    frozen_now(dt.datetime(2022, 10, 9, 0, 0))
    body = setup.get().get_json()
    assert body["status"] == "missing" and body["late"] is True


@pytest.mark.parametrize("values, field, words", [
    ({"enrolled": -1}, "enrolled", "不能为负数"),
    ({"enrolled": "两千"}, "enrolled", "不是整数"),
    ({"enrolled": 1.5}, "enrolled", "不是整数"),
    ({"enrolled": True}, "enrolled", "不是整数"),
    ({"enrolled": 100, "students_enrolled": 101}, "students_enrolled", "不能大于居民医保已参保人数"),
    ({"should_enroll": 10, "hardship_should": 11}, "hardship_should", "不能大于居民医保应参保人数"),
    ({"unknown_key": 1}, "unknown_key", "不是本表的指标"),
])
def test_bad_values_are_422_and_nothing_is_saved(setup, values, field, words):
    answer = setup.put({"values": values, "submit": False})
    assert answer.status_code == 422
    errors = answer.get_json()["errors"]
    assert any(e["field"] == field and words in e["message"] for e in errors), errors
    assert reports() == 0


def test_hardship_enrolled_above_hardship_should_is_allowed(setup):
    answer = setup.put({"values": {**VALUES, "hardship_should": 70, "hardship_enrolled": 78},
                        "filer": FILER, "submit": True})
    assert answer.status_code == 200, answer.get_json()
    stored = setup.get().get_json()  # read back: submitted as typed, the surplus kept
    assert stored["status"] == "submitted"
    assert (stored["values"]["hardship_should"], stored["values"]["hardship_enrolled"]) == (70, 78)


def test_submission_needs_signature_and_valid_phone(setup):
    answer = setup.put({"values": VALUES, "filer": {"name": "黄丽华", "phone": "12345"}, "submit": True})
    assert answer.status_code == 422
    fields = {e["field"]: e["message"] for e in answer.get_json()["errors"]}
    assert "请填写单位负责人" == fields["filer.head"]
    assert "不是有效的手机或固定电话号码" in fields["filer.phone"]
    assert reports() == 0


def test_landline_phone_is_accepted(setup):
    answer = setup.put({"values": VALUES, "filer": {**FILER, "phone": "0750-6612345"}, "submit": True})
    assert answer.status_code == 200, answer.get_json()
    stored = setup.get().get_json()  # read back: submitted, the landline kept as written
    assert stored["status"] == "submitted" and stored["filer"] == {**FILER, "phone": "0750-6612345"}


def test_correction_needs_a_reason_and_keeps_the_old_values(setup):
    setup.put({"values": VALUES, "filer": FILER, "submit": True})
    no_reason = setup.put({"values": {"enrolled": 2050}})
    assert no_reason.status_code == 422
    assert no_reason.get_json()["errors"][0] == {"field": "reason", "message": "修改已提交的报表须填写修改原因"}
    assert setup.get().get_json()["values"]["enrolled"] == 2000
    fixed = setup.put({"values": {"enrolled": 2050}, "reason": "补录信息系统数据", "revision": 1})
    assert fixed.status_code == 200 and fixed.get_json()["revision"] == 2
    assert fixed.get_json()["status"] == "submitted"
    # the first submission is held by the report itself, as after an import: one revision row
    assert [(r.kind, r.number) for r in db.session.scalars(select(Revision))] == [("correct", 2)]
    report = db.session.scalar(select(Report))
    correction, first = history(report.period, [report.region_id])
    assert [(r.kind, r.number) for r in (first, correction)] == [("submit", 1), ("correct", 2)]
    assert first.new_values["enrolled"] == 2000 and first.user is not None
    assert correction.old_values["enrolled"] == 2000 and correction.new_values["enrolled"] == 2050
    assert correction.reason == "补录信息系统数据"


def test_unchanged_resubmission_needs_no_reason(setup):
    setup.put({"values": VALUES, "filer": FILER, "submit": True})
    again = setup.put({"values": VALUES, "filer": FILER, "submit": True})
    assert again.status_code == 200 and again.get_json()["revision"] == 1


def test_stale_revision_is_409_with_the_current_values(setup):
    setup.put({"values": VALUES, "filer": FILER, "submit": False})
    setup.put({"values": {"enrolled": 2222}, "revision": 1}, user="admin")
    stale = setup.put({"values": {"enrolled": 1999}, "revision": 1})
    assert stale.status_code == 409
    body = stale.get_json()
    assert "已被他人修改" in body["errors"][0]["message"]
    assert body["current"]["values"]["enrolled"] == 2222 and body["current"]["revision"] == 2
    assert setup.get().get_json()["values"]["enrolled"] == 2222


def test_closed_period_is_409_except_for_the_city_admin(setup, frozen_now):
    frozen_now(dt.datetime(2023, 3, 1, 9, 0))  # after the extension to 2月28日
    closed = setup.put({"values": VALUES, "filer": FILER, "submit": True})
    assert closed.status_code == 409 and "已关闭" in closed.get_json()["errors"][0]["message"]
    assert reports() == 0
    assert setup.put({"values": VALUES, "filer": FILER, "submit": True}, user="admin").status_code == 200


def test_falling_count_is_a_warning_not_an_error(setup, frozen_now):
    setup.put({"values": VALUES, "filer": FILER, "submit": True})
    frozen_now(dt.datetime(2022, 10, 15, 9, 0))
    answer = setup.put({"values": {**VALUES, "enrolled": 1900, "should_enroll": 2700}, "filer": FILER,
                        "submit": True}, period=1)
    assert answer.status_code == 200
    messages = [w["message"] for w in answer.get_json()["warnings"]]
    assert any("比上期减少100人" in m for m in messages), messages
    assert any("与上期不同" in m for m in messages)


def test_rate_above_100_percent_warns(setup):
    answer = setup.put({"values": {**VALUES, "enrolled": 2700, "should_enroll": 2600}, "filer": FILER,
                        "submit": True})
    assert any("参保率超过100%" in w["message"] for w in answer.get_json()["warnings"])


def test_other_county_and_viewers_are_403(setup):
    other = setup.put({"values": VALUES, "filer": FILER, "submit": True}, user="pengjiang")
    assert other.status_code == 403 and "values" not in other.get_json()
    assert setup.get(user="pengjiang").status_code == 403
    assert setup.put({"values": VALUES}, user="boss").status_code == 403
    assert setup.get(user="boss").status_code == 200
    assert reports() == 0


def test_unit_above_the_report_level_is_refused(setup):
    answer = setup.put({"values": VALUES}, code="440705")
    assert answer.status_code == 422 and "不是该征缴期的填报单位" in answer.get_json()["errors"][0]["message"]


@pytest.mark.parametrize("body", [[], "x", {"values": [1, 2]}, {"submit": "yes"}, {"revision": "1"},
                                  {"filer": "黄丽华"}])
def test_malformed_bodies_are_422(setup, body):
    answer = setup.put(body)
    assert answer.status_code == 422 and answer.get_json()["errors"][0]["message"]
    assert reports() == 0
