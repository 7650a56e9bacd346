"""退回 and 审核 through the API: who reviews, every transition, bulk actions, and the publication lock."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from reporting.campaigns.campaigns import create_campaign
from reporting.extensions import db
from reporting.filing import reviewed
from reporting.filing.filing import import_reports
from reporting.models import AuditEntry, Region, Report, Review, Revision
from reporting.progress.rollup import region_totals
from reporting.regions.hierarchy import descendants_at, region_by_code
from reporting.review import review

from .conftest import make_user

FILER = {"name": "黄丽华", "phone": "13802216103", "head": "张局长"}
VALUES = {"population": 3000, "should_enroll": 2600, "enrolled": 2000, "hardship_should": 80,
          "hardship_enrolled": 78, "students_enrolled": 400, "newborns_enrolled": 20, "college_enrolled": 0}
XINHUI, SHADUI, YAMEN, PENGJIANG = "440705", "440705106", "440705105", "440703"


def villages(code: str) -> list[str]:
    return list(db.session.scalars(descendants_at(region_by_code(code), "village")
                                   .with_only_columns(Region.code).order_by(Region.code)))


@pytest.fixture
def world(client, runner, jiangmen, frozen_now):
    """江门市's campaign; every village of 沙堆镇 and 崖门镇 submitted period 1 but the last of 沙堆镇."""
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), extend_to=dt.date(2023, 2, 28),
                                  first_due=dt.date(2022, 10, 1))
    period = campaign.periods[0]
    shadui, yamen = villages(SHADUI), villages(YAMEN)
    import_reports(period, [(n, code, VALUES, FILER) for n, code in enumerate(shadui[:-1] + yamen)], submit=True)
    db.session.commit()
    tokens = {}
    for name, role, region in (("admin", "city_admin", "4407"), ("xinhui", "county_filer", XINHUI),
                               ("shadui", "township_filer", SHADUI), ("boss", "viewer", "4407"),
                               ("pengjiang", "county_filer", PENGJIANG)):
        make_user(name, role, region)
        tokens[name] = runner.invoke(args=["users", "token", name]).stdout.strip().splitlines()[-1]

    class World:
        pass
    w = World()
    w.campaign, w.period, w.shadui, w.yamen, w.tokens = campaign, period, shadui, yamen, tokens
    w.unit = shadui[0]

    def call(method, url, user, body=None):
        return client.open(f"/api/v1{url}", method=method, json=body,
                           headers={"Authorization": f"Bearer {tokens[user]}"})
    w.call = call
    w.report = lambda code=None, user="xinhui": call("GET", f"/reports/{code or w.unit}/{period.id}", user)
    w.put = lambda body, code=None, user="xinhui": call("PUT", f"/reports/{code or w.unit}/{period.id}", user, body)
    w.back = lambda reason, code=None, user="admin": call(
        "POST", f"/reports/{code or w.unit}/{period.id}/return", user, {"reason": reason} if reason is not None else {})
    w.approve = lambda code=None, user="admin": call("POST", f"/reports/{code or w.unit}/{period.id}/approve", user)
    w.bulk = lambda code, body, user="admin": call("POST", f"/reviews/{code}/{period.id}", user, body)
    return w


def counted(w) -> int:
    db.session.expire_all()
    return region_totals(w.period, region_by_code(SHADUI)).get("enrolled")


def test_only_the_level_above_returns_and_a_reason_is_required(world):
    for user in ("xinhui", "boss", "pengjiang", "shadui"):
        # xinhui files 崖门镇 itself (no township filer there); 沙堆镇's own filer cannot review itself
        refused = world.back("数字有误", code=world.yamen[0] if user == "xinhui" else None, user=user)
        assert refused.status_code == 403, (user, refused.get_json())
    no_reason = world.back("   ")
    assert no_reason.status_code == 422 and no_reason.get_json()["errors"][0]["field"] == "reason"
    nothing = world.back("数字有误", code=world.shadui[-1])  # the one village that never submitted
    assert nothing.status_code == 409
    assert db.session.scalar(select(func.count()).select_from(Review)) == 0

    answer = world.back("已参保人数与信息系统不符，请核实")
    body = answer.get_json()
    assert answer.status_code == 200, body
    assert body["status"] == "returned" and body["locked"] is False
    assert body["review"]["state"] == "returned" and body["review"]["reason"] == "已参保人数与信息系统不符，请核实"
    assert body["review"]["by"] == "admin" and body["review"]["at"] == "2022-10-05T10:00:00"
    # the filer sees it at once, and so does the audit log
    assert world.report(user="shadui").get_json()["review"]["reason"] == "已参保人数与信息系统不符，请核实"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.kind == "report.return"))
    assert entry.after["reason"] == "已参保人数与信息系统不符，请核实" and entry.user.username == "admin"
    assert world.back("再退一次").status_code == 409  # already returned


def test_a_county_reviews_the_units_its_townships_file(world):
    """沙堆镇 has its own filer, so 新会区 is the level above it; 崖门镇's villages it files itself."""
    assert world.back("请核实", user="xinhui").status_code == 200
    assert world.approve(code=world.shadui[1], user="xinhui").status_code == 200
    assert world.approve(code=world.yamen[0], user="xinhui").status_code == 403
    assert world.approve(code=world.yamen[0], user="admin").status_code == 200


def test_returned_report_counts_until_resubmitted_and_the_resubmission_is_a_revision(world):
    before = counted(world)
    assert world.back("已参保人数偏高").status_code == 200
    assert counted(world) == before  # a returned report keeps counting with its last submitted values

    # the filer's edits are kept aside: still returned, still counting the old values
    draft = world.put({"values": {"enrolled": 1500}, "submit": False}, user="shadui")
    assert draft.status_code == 200 and draft.get_json()["status"] == "returned"
    assert draft.get_json()["values"]["enrolled"] == 2000 and counted(world) == before
    assert reviewed.pending_values(db.session.scalar(select(Report).join(Region).where(Region.code == world.unit))
                                 )["enrolled"] == 1500

    revision = world.report().get_json()["revision"]
    again = world.put({"submit": True}, user="shadui")  # no reason needed: the return gave it
    body = again.get_json()
    assert again.status_code == 200, body
    assert body["status"] == "submitted" and body["review"] is None and body["values"]["enrolled"] == 1500
    assert body["revision"] == revision + 1
    assert counted(world) == before - 500
    change = db.session.scalar(select(Revision).order_by(Revision.id.desc()))
    assert change.kind == "correct" and change.old_values["enrolled"] == 2000 and change.new_values["enrolled"] == 1500
    assert change.reason == reviewed.RESUBMIT_REASON
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.kind == "report.resubmit")) is not None


def test_approval_locks_the_report_until_a_reviewer_reopens_it(world):
    approved = world.approve()
    assert approved.status_code == 200
    assert approved.get_json()["status"] == "approved" and approved.get_json()["locked"] is True
    assert world.approve().status_code == 409  # nothing left to approve
    locked = world.put({"values": {"enrolled": 2100}, "reason": "补录"}, user="shadui")
    said = locked.get_json()["errors"][0]["message"]
    assert locked.status_code == 409 and said == "该报表已审核通过并锁定，如需修改请联系审核单位退回"
    assert world.report().get_json()["values"]["enrolled"] == 2000
    # a bulk import cannot change it either, and says the same
    from reporting.tables import ImportRejected
    with pytest.raises(ImportRejected, match=said):
        import_reports(world.period, [(1, world.unit, {"enrolled": 2100}, {})], submit=True, reason="补录")
    db.session.rollback()
    # an import that leaves it as it is (the information system's nightly export) passes
    same = import_reports(world.period, [(1, world.unit, {"enrolled": 2000}, {}),
                                         (2, world.shadui[1], {"enrolled": 2001}, {})], submit=True, reason="补录")
    db.session.commit()
    assert (same.loaded, same.updated, same.unchanged) == (2, 1, 1)
    assert world.report().get_json()["locked"] is True

    reopened = world.back("请补录新生儿")
    assert reopened.status_code == 200 and reopened.get_json()["locked"] is False
    fixed = world.put({"values": {"newborns_enrolled": 25}, "submit": True}, user="shadui")
    assert fixed.status_code == 200 and fixed.get_json()["status"] == "submitted"
    assert fixed.get_json()["values"]["newborns_enrolled"] == 25


def test_bulk_approval_counts_the_submitted_units_and_is_all_or_nothing(world, monkeypatch):
    submitted = len(world.shadui) - 1
    assert world.back("请核实", code=world.shadui[0]).status_code == 200
    refused = world.bulk(SHADUI, {"action": "return"})
    assert refused.status_code == 422
    assert world.bulk(SHADUI, {"action": "approve"}, user="shadui").status_code == 403
    assert world.bulk(SHADUI, {"action": "publish"}).status_code == 422

    # a failure after the units are written (here: the audit log's) leaves every unit as it was
    def failing(*args, **kwargs):
        written = db.session.scalar(select(func.count()).select_from(Review).where(Review.state == "approved"))
        assert written == submitted - 1  # the failure comes after the writes
        raise RuntimeError("磁盘已满")
    monkeypatch.setattr(review.audit, "record", failing)
    with pytest.raises(RuntimeError):
        world.bulk(SHADUI, {"action": "approve"})
    db.session.rollback()
    monkeypatch.undo()
    assert db.session.scalar(select(func.count()).select_from(Review).where(Review.state == "approved")) == 0

    done = world.bulk(SHADUI, {"action": "approve"})
    body = done.get_json()
    assert done.status_code == 200, body
    # the returned one waits for resubmission, the unfiled one has nothing to approve
    assert body["count"] == submitted - 1 and len(body["units"]) == submitted - 1
    assert world.shadui[0] not in body["units"] and world.shadui[-1] not in body["units"]
    assert all(world.report(code, "admin").get_json()["locked"] for code in body["units"][:3])
    # returning a whole township reopens every submitted unit of it, the approved ones too
    back = world.bulk(SHADUI, {"action": "return", "reason": "全镇数据与信息系统不符"}).get_json()
    assert back["count"] == submitted - 1
    assert world.report(body["units"][0], "admin").get_json()["status"] == "returned"


def test_issuing_a_circular_locks_what_it_printed(world, runner, client, frozen_now):
    late_unit = world.shadui[-1]
    frozen_now(dt.datetime(2022, 10, 9, 9, 0))
    result = runner.invoke(args=["circulars", "issue", "--region", XINHUI, "--period", str(world.period.id),
                                 "--by", "admin"])
    assert result.exit_code == 0, result.output
    circular_id = int(result.stdout.strip().splitlines()[-1])
    report = world.report().get_json()
    assert report["locked"] is True and report["status"] == "submitted"
    assert world.put({"values": {"enrolled": 2100}, "reason": "补录"}, user="shadui").status_code == 409

    # a unit that had not filed still can (迟报), and is listed 通报后补报
    late = world.put({"values": VALUES, "filer": FILER, "submit": True}, code=late_unit, user="shadui")
    assert late.status_code == 200 and late.get_json()["late"] is True and late.get_json()["locked"] is False
    # a change needs the reviewer to reopen the unit first; it is then 通报后更正
    frozen_now(dt.datetime(2022, 10, 10, 9, 0))
    assert world.back("数据有误，请更正").status_code == 200
    assert world.put({"values": {"enrolled": 1900}, "submit": True}, user="shadui").status_code == 200
    from reporting.models import Circular
    changes = review.after_publication(db.session.get(Circular, circular_id))
    assert [r.code for r in changes.corrected] == [world.unit]
    assert [r.code for r in changes.late_filed] == [late_unit]
    lines = review.publication_lines(world.campaign.periods[1], region_by_code(XINHUI))
    assert lines[0].startswith("第1期通报后，沙堆镇1个村（社区）更正")
    assert "沙堆镇1个村（社区）补报" in lines[1]
    from reporting.circulars.circulars import new_draft
    body = new_draft(world.campaign.periods[1], region_by_code(XINHUI)).body
    assert lines[0] in body and lines[1] in body  # the next 通报 lists them
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.kind == "reports.publish")) is not None

    # the issued PDF is readable under 新会区 and above it, not beside it
    pdf = lambda user: world.call("GET", f"/circulars/{circular_id}.pdf", user)  # noqa: E731
    assert pdf("shadui").data.startswith(b"%PDF") and pdf("admin").status_code == 200
    assert pdf("pengjiang").status_code == 403
    listed = world.call("GET", f"/circulars?region_code={SHADUI}", "shadui").get_json()
    assert [c["id"] for c in listed] == [circular_id] and listed[0]["number"].endswith("1号")
    assert world.call("GET", f"/circulars?region_code={PENGJIANG}", "shadui").status_code == 403
    assert world.call("GET", "/circulars", "pengjiang").get_json() == []


def test_issue_command_refuses_bad_input(world, runner):
    bad = runner.invoke(args=["circulars", "issue", "--region", XINHUI, "--period", "999"])
    assert bad.exit_code != 0 and "不存在" in bad.output
    outsider = runner.invoke(args=["circulars", "issue", "--region", XINHUI, "--period", str(world.period.id),
                                   "--by", "pengjiang"])
    assert outsider.exit_code != 0 and "无权" in outsider.output


def test_nobody_approves_or_returns_a_revision_they_wrote(world, client):
    """新会区 corrects a village of 沙堆镇 (which it reviews): it may not then approve or return it, on any
    path; the city may, and so may 新会区 for a village whose current revision someone else wrote."""
    fixed = world.put({"values": {"enrolled": 2050}, "reason": "与信息系统核对后更正"}, user="xinhui")
    assert fixed.status_code == 200 and fixed.get_json()["revision"] == 2
    own = world.approve(user="xinhui")
    assert own.status_code == 403 and "本人" in own.get_json()["errors"][0]["message"]
    assert world.back("请核实", user="xinhui").status_code == 403
    assert world.report().get_json()["review"] is None  # nothing written

    # the bulk call skips it and names it, and approves the rest
    bulk = world.bulk(SHADUI, {"action": "approve"}, user="xinhui").get_json()
    assert bulk["skipped"] == [{"code": world.unit, "reason": "当前版本由您本人填报或修改，不能由您本人审核或退回"}]
    assert world.unit not in bulk["units"] and bulk["count"] == len(world.shadui) - 2
    assert world.report().get_json()["review"] is None

    # the review page offers no step on it, and refuses one
    client.post("/login", data={"username": "xinhui", "password": "correct-horse-battery"})
    listing = client.get(f"/review/{SHADUI}?period={world.period.id}").get_data(as_text=True)
    assert "本人修改的版本，须由其他审核人员处理" in listing
    page = client.post(f"/review/{SHADUI}/{world.period.id}/units/{world.unit}", data={"action": "approve"})
    assert page.status_code == 403 and "本人" in page.get_data(as_text=True)
    assert world.report().get_json()["review"] is None

    # the city reviews what 新会区 wrote
    assert world.approve(user="admin").get_json()["review"]["by"] == "admin"


def test_approve_and_return_at_the_same_moment_answer_409_not_500(world, app):
    """Two reviewers act on one report at once (the city approves, the county returns): one wins, the
    other gets a 409 with the report as the first left it; never a 500, never two review rows."""
    import threading
    rounds, pid = 6, world.period.id  # the threads read no object of this session
    for n in range(rounds):
        code = world.shadui[n]
        barrier, answers = threading.Barrier(2), {}

        def run(who, step):
            with app.app_context():
                barrier.wait(30)  # a reviewer that never comes fails the test rather than hang the run
                answers[who] = step()
        threads = [threading.Thread(target=run, args=("approve", lambda: world.call(
                       "POST", f"/reports/{code}/{pid}/approve", "admin"))),
                   threading.Thread(target=run, args=("return", lambda: world.call(
                       "POST", f"/reports/{code}/{pid}/return", "xinhui", {"reason": "请核实"})))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        codes = sorted(a.status_code for a in answers.values())
        assert codes in ([200, 200], [200, 409]), {k: (a.status_code, a.get_json()) for k, a in answers.items()}
        for answer in answers.values():
            if answer.status_code == 409:  # with the report as the other reviewer left it
                assert answer.get_json()["current"]["review"]["state"] in ("approved", "returned")
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Review)) == rounds
    # each step that answered 200 is in the actions log, and no more
    from reporting.models import ReviewAction
    assert db.session.scalar(select(func.count()).select_from(ReviewAction)) >= rounds


def test_two_bulk_approvals_at_once_approve_each_unit_once(world, app):
    import threading
    barrier, answers, pid = threading.Barrier(2), [], world.period.id

    def run():
        with app.app_context():
            barrier.wait(30)
            answers.append(world.call("POST", f"/reviews/{SHADUI}/{pid}", "admin", {"action": "approve"}))
    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) in ([200, 200], [200, 409]), [a.get_json() for a in answers]
    counts = sorted(a.get_json().get("count", 0) for a in answers)
    assert counts[1] == len(world.shadui) - 1 and counts[0] == 0
    from reporting.models import ReviewAction
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(ReviewAction)) == len(world.shadui) - 1


# --- one judgement of a row on both write paths (filing.judge) ------------------------------

def through_form(world, code, values, *, submit=True, reason=None, filer=None):
    """The row written through the form's path (the API's PUT, save_report): what it said."""
    body = {"values": values, "submit": submit, **({"reason": reason} if reason else {}),
            **({"filer": filer} if filer else {})}
    answer = world.put(body, code=code, user="shadui")
    errors = (answer.get_json() or {}).get("errors") or []
    return answer.status_code, [e["message"] for e in errors]


def through_import(world, code, values, *, submit=True, reason=None, filer=None):
    """The same row written through an import (Plan.add and _write): what it said."""
    from reporting.tables import ImportRejected
    try:
        import_reports(world.period, [(2, code, values, filer or {})], submit=submit, reason=reason)
    except ImportRejected as refused:
        db.session.rollback()
        return 409 if any("锁定" in e.message or "退回" in e.message for e in refused.errors) else 422, \
            [e.message for e in refused.errors]
    db.session.commit()
    return 200, []


@pytest.mark.parametrize("case", ["locked, left as it is", "locked, changed", "correction without a reason",
                                  "a new signature without a reason", "returned and resubmitted"])
def test_the_form_and_an_import_judge_a_row_alike(world, case):
    form_unit, import_unit = world.shadui[0], world.shadui[1]
    for unit in (form_unit, import_unit):
        if case.startswith("locked"):
            assert world.approve(code=unit).status_code == 200
        if case.startswith("returned"):
            assert world.back("请核实新生儿人数", code=unit).status_code == 200
    values = {"enrolled": 2000 if case == "locked, left as it is" else 2100}
    filer = {**FILER, "name": "李志强"} if "signature" in case else None
    if "signature" in case:
        values = {"enrolled": 2000}
    said = [write(world, unit, values, filer=filer) for write, unit in
            ((through_form, form_unit), (through_import, import_unit))]
    assert said[0] == said[1], case
    status, messages = said[0]
    expected = {"locked, left as it is": (200, []),
                "locked, changed": (409, ["该报表已审核通过并锁定，如需修改请联系审核单位退回"]),
                "correction without a reason": (422, ["修改已提交的报表须填写修改原因"]),
                "a new signature without a reason": (422, ["修改已提交的报表须填写修改原因"]),
                "returned and resubmitted": (200, [])}[case]
    assert (status, messages[-1:]) == (expected[0], expected[1])
    if case == "returned and resubmitted":
        # both resubmissions are corrections that give the return's reason, and await review again
        changes = db.session.scalars(select(Revision).order_by(Revision.id)).all()
        assert [(c.kind, c.reason, c.new_values["enrolled"]) for c in changes] == \
            [("correct", reviewed.RESUBMIT_REASON, 2100)] * 2
        assert [world.report(code=u).get_json()["review"] for u in (form_unit, import_unit)] == [None, None]


def test_no_path_writes_a_revision_row_for_a_first_submission_and_the_history_shows_it(world):
    """The last village of 沙堆镇 never submitted: its first submission through the form is held by
    the report, as an import's is, and its history shows it from there."""
    from reporting.filing.filing import history
    last = world.shadui[-1]
    assert world.put({"values": VALUES, "filer": FILER, "submit": True}, code=last, user="shadui").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Revision)) == 0
    unit = region_by_code(last)
    (first,) = history(world.period, [unit.id])
    assert (first.kind, first.number, first.new_values["enrolled"], first.user.username) == ("submit", 1, 2000, "shadui")
