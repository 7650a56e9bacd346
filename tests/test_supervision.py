"""督办闭环 on seed 001's 朱集镇: the 约谈 of the village last two weeks running, its 整改报告, its 销号,
an overdue order, a department as the subject, and who may do each step."""
import datetime as dt

import pytest
from sqlalchemy import select

from reporting.departments.departments import add_department
from reporting.extensions import db
from reporting.models import AuditEntry, SupervisionItem, SupervisionNotice, User

from .conftest import make_user
from .fixtures.zhuji import TASKS, file

SHARES = {name: 0.30 for name in TASKS}


@pytest.fixture
def loop(zhuji, runner, client, frozen_now):
    """Two weeks filed: 固城 last both times (约谈名单); today 9月16日, in week 3.

    宿州市's city admin and 灵璧县's county filer review 朱集镇's villages (its township files them),
    朱集镇's township filer answers, 埇桥区 sees none of it."""
    campaign, villages = zhuji
    week = campaign.periods
    file(week[0], villages, {**SHARES, "固城": 0.05}, dt.datetime(2022, 9, 7, 10), frozen_now)
    file(week[1], villages, {**SHARES, "固城": 0.06}, dt.datetime(2022, 9, 14, 10), frozen_now)
    frozen_now(dt.datetime(2022, 9, 16, 10))
    tokens = {}
    for name, role, region in (("suzhou", "city_admin", "3413"), ("lingbi", "county_filer", "341323"),
                               ("zhuji", "township_filer", "341323117"), ("leader", "viewer", "341323"),
                               ("yongqiao", "county_filer", "341302")):
        make_user(name, role, region)
        tokens[name] = runner.invoke(args=["users", "token", name]).stdout.strip().splitlines()[-1]

    class Loop:
        pass
    w = Loop()
    w.campaign, w.week, w.villages, w.gucheng = campaign, week, villages, villages["固城"].code

    def call(method, url, user, body=None):
        return client.open(f"/api/v1{url}", method=method, json=body,
                           headers={"Authorization": f"Bearer {tokens[user]}"})
    w.call = call

    def create(user="suzhou", **fields):
        body = {"region_code": w.gucheng, "period_id": week[1].id, "kind": "interview",
                "matter": "连续2期排名末位", "due": "2022-09-30",
                "interview": {"date": "2022-09-16", "place": "县医保局会议室", "interviewee": "村党支部书记",
                              "interviewer": "县医保局局长"}, **fields}
        return call("POST", "/supervision", user, {k: v for k, v in body.items() if v is not None})
    w.create = create
    return w


def test_the_reviewing_level_records_the_interview_of_the_last_village(loop):
    answer = loop.create()
    assert answer.status_code == 201
    item = answer.get_json()
    assert item["number"] == "督办〔2022〕1号" and item["region_code"] == loop.gucheng
    assert item["status"] == "open" and item["overdue"] is False and item["responses"] == []
    assert item["kind"] == "interview" and item["created_by"] == "suzhou"
    assert item["interview"]["interviewee"] == "村党支部书记"
    # 固城 stood 13th of 13 at 6% of its task when it was interviewed
    assert item["figures"]["then"] == {"completion": pytest.approx(round(1905 * 0.06) / 1905), "rank": 13}
    # the county reviews the villages its township files: its own items are numbered apart
    second = loop.create(user="lingbi", kind="order").get_json()
    assert second["number"] == "督办〔2022〕1号"
    assert loop.create(kind="order").get_json()["number"] == "督办〔2022〕2号"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.kind == "supervision.create"))
    assert entry.target.startswith("督办〔2022〕1号") and entry.after["matter"] == "连续2期排名末位"


@pytest.mark.parametrize("user", ["zhuji", "leader", "yongqiao"])
def test_only_the_reviewing_level_creates(loop, user):
    answer = loop.create(user=user)
    assert answer.status_code == 403
    assert "上级" in answer.get_json()["errors"][0]["message"]
    assert db.session.scalar(select(SupervisionItem.id)) is None


@pytest.mark.parametrize("missing", ["matter", "due"])
def test_an_item_needs_its_matter_and_its_time_limit(loop, missing):
    answer = loop.create(**{missing: None})
    assert answer.status_code == 422
    assert answer.get_json()["errors"][0]["field"] == missing
    assert db.session.scalar(select(SupervisionItem.id)) is None


def test_blank_matter_and_an_unreadable_date_are_refused_in_chinese(loop):
    assert loop.create(matter="   ").get_json()["errors"][0]["message"] == "请填写督办事项"
    answer = loop.create(due="9月30日")
    assert answer.status_code == 422 and "整改时限应为日期" in answer.get_json()["errors"][0]["message"]
    assert loop.create(kind="memo").status_code == 422


def test_list_and_read_for_those_who_see_the_unit(loop):
    made = loop.create().get_json()
    for user in ("suzhou", "lingbi", "zhuji", "leader"):
        listed = loop.call("GET", "/supervision?region_code=341323117", user).get_json()
        assert [i["number"] for i in listed] == [made["number"]], user
        assert loop.call("GET", f"/supervision/{made['id']}", user).status_code == 200
    assert loop.call("GET", f"/supervision/{made['id']}", "yongqiao").status_code == 403
    assert loop.call("GET", "/supervision?region_code=341323117", "yongqiao").status_code == 403
    # 埇桥区's own list has nothing of 灵璧县
    assert loop.call("GET", "/supervision?region_code=341302", "yongqiao").get_json() == []
    assert loop.call("GET", "/supervision?region_code=341323117&status=closed", "suzhou").get_json() == []


def test_the_township_answers_and_the_figures_show_what_moved(loop, frozen_now):
    made = loop.create().get_json()
    # week 3: 固城 reaches 50% and climbs off the bottom
    file(loop.week[2], loop.villages, {**SHARES, "固城": 0.50, "星光": 0.04}, dt.datetime(2022, 9, 20, 10), frozen_now)
    frozen_now(dt.datetime(2022, 9, 21, 10))
    answer = loop.call("POST", f"/supervision/{made['id']}/response", "zhuji",
                       {"text": "已逐户上门动员，补缴427人", "promise": "9月30日前完成率达到60%"})
    assert answer.status_code == 200
    item = answer.get_json()
    assert item["status"] == "responded"
    assert item["responses"][0]["text"] == "已逐户上门动员，补缴427人" and item["responses"][0]["by"] == "zhuji"
    figures = loop.call("GET", f"/supervision/{made['id']}", "leader").get_json()["figures"]
    assert figures["then"]["rank"] == 13
    assert figures["now"] == {"completion": pytest.approx(round(1905 * 0.5) / 1905), "rank": 1}


@pytest.mark.parametrize("user", ["suzhou", "lingbi", "leader", "yongqiao"])
def test_only_the_units_own_filers_answer(loop, user):
    made = loop.create().get_json()
    answer = loop.call("POST", f"/supervision/{made['id']}/response", user, {"text": "已整改"})
    assert answer.status_code == 403
    assert loop.call("GET", f"/supervision/{made['id']}", "suzhou").get_json()["status"] == "open"


def test_a_report_needs_its_text(loop):
    made = loop.create().get_json()
    answer = loop.call("POST", f"/supervision/{made['id']}/response", "zhuji", {"text": ""})
    assert answer.status_code == 422 and answer.get_json()["errors"][0]["message"] == "请填写整改情况"
    assert loop.call("GET", f"/supervision/{made['id']}", "zhuji").get_json()["responses"] == []


def test_the_issuer_closes_and_sends_back(loop):
    made = loop.create().get_json()
    url = f"/supervision/{made['id']}"
    loop.call("POST", f"{url}/response", "zhuji", {"text": "已整改"})
    assert loop.call("POST", f"{url}/close", "zhuji").status_code == 403
    assert loop.call("POST", f"{url}/reopen", "zhuji", {"reason": "不行"}).status_code == 403
    refused = loop.call("POST", f"{url}/reopen", "suzhou", {})
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "reason"
    assert loop.call("GET", url, "suzhou").get_json()["status"] == "responded"
    back = loop.call("POST", f"{url}/reopen", "suzhou", {"reason": "未说明完成率提升措施", "due": "2022-10-08"})
    assert back.status_code == 200
    assert back.get_json()["status"] == "open" and back.get_json()["reopen_reason"] == "未说明完成率提升措施"
    assert back.get_json()["due"] == "2022-10-08"
    loop.call("POST", f"{url}/response", "zhuji", {"text": "补充：每日通报各组进度"})
    closed = loop.call("POST", f"{url}/close", "suzhou")
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    assert len(closed.get_json()["responses"]) == 2
    # a closed item takes no more reports and cannot be closed twice
    assert loop.call("POST", f"{url}/response", "zhuji", {"text": "再报"}).status_code == 409
    assert loop.call("POST", f"{url}/close", "suzhou").status_code == 409
    kinds = db.session.scalars(select(AuditEntry.kind).where(AuditEntry.kind.like("supervision.%"))
                               .order_by(AuditEntry.id)).all()
    assert kinds == ["supervision.create", "supervision.respond", "supervision.reopen", "supervision.respond",
                     "supervision.close"]


def test_an_order_past_its_time_limit_without_a_report_is_overdue(loop, frozen_now):
    # an order given by telephone on 9月10日 with 9月15日 as its limit, recorded afterwards
    made = loop.create(kind="order", due="2022-09-15", interview=None)
    assert made.status_code == 201 and made.get_json()["overdue"] is True
    on_time = loop.create(kind="order", due="2022-09-16").get_json()
    assert on_time["overdue"] is False  # the limit is today: not yet overdue
    frozen_now(dt.datetime(2022, 9, 17, 9))
    overdue = loop.call("GET", "/supervision?region_code=341323&status=overdue", "lingbi").get_json()
    assert sorted(i["id"] for i in overdue) == [made.get_json()["id"], on_time["id"]]
    # a report ends the overdue state, even late
    answered = loop.call("POST", f"/supervision/{on_time['id']}/response", "zhuji", {"text": "已整改"}).get_json()
    assert answered["overdue"] is False


def test_a_department_late_two_weeks_running_can_be_the_subject(loop, runner, client):
    department = add_department(loop.campaign, "镇民政办", ["hardship_should", "hardship_enrolled"])
    db.session.commit()
    make_user("minzheng", "department_filer", "341323117")
    filer = db.session.scalar(select(User).where(User.username == "minzheng"))
    filer.department_id = department.id
    db.session.commit()
    token = runner.invoke(args=["users", "token", "minzheng"]).stdout.strip().splitlines()[-1]
    body = {"department_id": department.id, "period_id": loop.week[1].id, "kind": "order",
            "matter": "连续2期逾期未报", "due": "2022-09-20"}
    # a county filer does not review a department: the city does
    assert loop.call("POST", "/supervision", "lingbi", body).status_code == 403
    made = loop.call("POST", "/supervision", "suzhou", body)
    assert made.status_code == 201
    item = made.get_json()
    assert item["department_id"] == department.id and item["region_code"] is None and item["subject"] == "镇民政办"
    # the township's filer is not the department's
    assert loop.call("POST", f"/supervision/{item['id']}/response", "zhuji", {"text": "x"}).status_code == 403
    answer = client.post(f"/api/v1/supervision/{item['id']}/response", json={"text": "已补报"},
                                            headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.get_json()["status"] == "responded"
    assert [i["subject"] for i in loop.call("GET", "/supervision?region_code=341323117", "leader").get_json()] \
        == ["镇民政办"]


# --- the pages ---------------------------------------------------------------------------------

def test_the_interview_list_offers_one_click_to_the_reviewer_only(loop, client, auth):
    auth.login("suzhou")
    page = client.get(f"/dashboard/341323117?period={loop.week[1].id}").get_data(as_text=True)
    new = f"/supervision/new?unit={loop.gucheng}&amp;period={loop.week[1].id}&amp;kind=interview"
    assert "记录约谈" in page and new in page
    auth.logout()
    auth.login("leader")
    assert "记录约谈" not in client.get(f"/dashboard/341323117?period={loop.week[1].id}").get_data(as_text=True)
    assert client.get(new.replace("&amp;", "&")).status_code == 403


def test_the_new_item_is_prefilled_with_the_rule_and_the_figures(loop, client, auth):
    auth.login("suzhou")
    page = client.get(f"/supervision/new?unit={loop.gucheng}&period={loop.week[1].id}&kind=interview")
    text = page.get_data(as_text=True)
    assert "连续2期排名末位（第1期第13名/共13个；第2期第13名/共13个）" in text
    assert "主要负责人" in text


def test_recording_an_interview_in_the_browser_form(loop, client, auth):
    auth.login("suzhou")
    url = f"/supervision/new?unit={loop.gucheng}&period={loop.week[1].id}"
    refused = client.post(url, data={"kind": "interview", "matter": "连续2期排名末位", "due": ""})
    assert refused.status_code == 422 and "请填写整改时限" in refused.get_data(as_text=True)
    assert db.session.scalar(select(SupervisionItem.id)) is None
    made = client.post(url, data={"kind": "interview", "matter": "连续2期排名末位", "due": "2022-09-30",
                                  "interview_date": "2022-09-16", "interview_place": "县医保局",
                                  "interviewee": "主要负责人", "interviewer": "王局长", "requirement": "一周内提高到30%"})
    assert made.status_code == 303
    page = client.get(made.headers["Location"]).get_data(as_text=True)
    assert "督办〔2022〕1号" in page and "固城村委会" in page and "王局长" in page
    assert "还有14天" in page and "5.98%" in page  # its completion when interviewed


def test_the_unit_answers_on_its_page_and_sees_it_on_its_todo(loop, client, auth):
    item = loop.create().get_json()
    auth.login("zhuji")
    home = client.get("/").get_data(as_text=True)
    assert "督办〔2022〕1号（约谈）：固城村委会须于9月30日前报送整改报告（还有14天）" in home
    empty = client.post(f"/supervision/items/{item['id']}/response", data={"text": ""})
    assert empty.status_code == 422 and "请填写整改情况" in empty.get_data(as_text=True)
    sent = client.post(f"/supervision/items/{item['id']}/response", data={"text": "已入户动员", "promise": "9月底达到60%"})
    assert sent.status_code == 303
    assert "须于9月30日前报送整改报告" not in client.get("/").get_data(as_text=True)
    auth.logout()
    auth.login("suzhou")
    assert "固城村委会已报送整改报告，待销号或退回" in client.get("/").get_data(as_text=True)
    page = client.get(f"/supervision/items/{item['id']}").get_data(as_text=True)
    assert "已入户动员" in page and "9月底达到60%" in page and "销号" in page
    assert client.post(f"/supervision/items/{item['id']}/reopen", data={"reason": ""}).status_code == 422
    assert client.post(f"/supervision/items/{item['id']}/close").status_code == 303
    assert "已销号" in client.get(f"/supervision/items/{item['id']}").get_data(as_text=True)


def test_others_can_neither_answer_nor_close_on_the_pages(loop, client, auth):
    item = loop.create().get_json()
    auth.login("lingbi")
    assert "报送整改报告</button>" not in client.get(f"/supervision/items/{item['id']}").get_data(as_text=True)
    assert client.post(f"/supervision/items/{item['id']}/response", data={"text": "x"}).status_code == 403
    auth.logout()
    auth.login("zhuji")
    assert client.post(f"/supervision/items/{item['id']}/close").status_code == 403
    auth.logout()
    auth.login("yongqiao")
    assert client.get(f"/supervision/items/{item['id']}").status_code == 403


def test_the_board_counts_open_and_overdue_items_per_unit(loop, client, auth):
    loop.create(kind="order", due="2022-09-15")
    loop.create()
    auth.login("lingbi")
    page = client.get(f"/dashboard/341323?period={loop.week[1].id}").get_data(as_text=True)
    assert 'href="/supervision/341323117">督办2 <span class="badge red">逾期1</span>' in page
    listed = client.get("/supervision/341323?status=overdue")
    assert "<html" in listed.get_data(as_text=True) and "督办〔2022〕1号" in listed.get_data(as_text=True)
    fragment = client.get("/supervision/341323?status=closed", headers={"HX-Request": "true"})
    assert "<html" not in fragment.get_data(as_text=True) and "没有已销号督办事项" in fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"]


def test_the_ledger_lists_every_item_with_its_state(loop, client, auth):
    import io

    from openpyxl import load_workbook
    loop.create(kind="order", due="2022-09-15", interview=None)
    closed = loop.create().get_json()
    loop.call("POST", f"/supervision/{closed['id']}/close", "suzhou")
    auth.login("leader")
    answer = client.get("/supervision/341323/ledger.xlsx")
    sheet = load_workbook(io.BytesIO(answer.data)).active
    rows = {row[0]: row for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert rows["督办〔2022〕1号"][1:3] == ("督办单", "固城村委会") and rows["督办〔2022〕1号"][7:9] == ("待整改", "是")
    assert rows["督办〔2022〕2号"][7:9] == ("已销号", "否")
    assert rows["督办〔2022〕2号"][12] == 13  # its rank when it was made


def test_the_next_circular_names_the_report_and_the_overdue_order(loop, frozen_now):
    from reporting.circulars.circulars import draft_body
    from reporting.progress.ranking import progress
    township = loop.villages["固城"].parent
    interview = loop.create().get_json()
    loop.create(kind="order", region_code=loop.villages["星光"].code, matter="困难群众未全覆盖", due="2022-09-18",
                interview=None)
    # 第2期's circular, the day the items were made: nothing answered, nothing overdue yet
    before = draft_body(progress(loop.week[1], township))
    assert "整改报告" not in before and "逾期未报送整改情况" not in before
    file(loop.week[2], loop.villages, {**SHARES, "固城": 0.50}, dt.datetime(2022, 9, 20, 10), frozen_now)
    frozen_now(dt.datetime(2022, 9, 21, 10))
    loop.call("POST", f"/supervision/{interview['id']}/response", "zhuji", {"text": "已入户动员"})
    body = draft_body(progress(loop.week[2], township))
    problems = body.split("存在问题")[1].split("下一步工作要求")[0]
    assert "第2期约谈的固城村委会已提交整改报告，完成率由5.98%提高到49.97%。" in problems
    assert "第2期督办的星光村委会（督办〔2022〕2号）逾期未报送整改情况。" in problems
    # 工作要求 name it too, with the day to answer by: the next report round's due date
    due = min(p.due for p in loop.campaign.periods if p.due > dt.date(2022, 9, 21))
    requirements = body.split("下一步工作要求")[1]
    assert (f"抓好督办整改。星光村委会督办事项（督办〔2022〕2号）逾期未报送整改情况，"
            f"请于{due.month}月{due.day}日前报送整改报告") in requirements
    assert "固城村委会" not in requirements  # answered: nothing required of it


def test_an_answer_with_no_change_in_figures_is_said_without_empty_arithmetic(loop, frozen_now):
    from reporting.circulars.circulars import draft_body
    from reporting.progress.ranking import progress
    township = loop.villages["固城"].parent
    interview = loop.create().get_json()
    frozen_now(dt.datetime(2022, 9, 21, 10))
    loop.call("POST", f"/supervision/{interview['id']}/response", "zhuji", {"text": "已入户动员"})
    loop.call("POST", f"/supervision/{interview['id']}/close", "lingbi")
    body = draft_body(progress(loop.week[2], township))  # week 3 not filed: 固城 carries week 2's figures
    assert "第2期约谈的固城村委会已提交整改报告，完成率仍为5.98%。" in body and "提高到5.98%" not in body


def test_more_than_five_overdue_items_are_counted_and_the_three_longest_overdue_named(loop):
    """Six overdue orders: one sentence counts them and names the three furthest past their 整改时限,
    in 存在问题 and in 工作要求, rather than six sentences and a list of six."""
    from reporting.circulars.circulars import draft_body
    from reporting.progress.ranking import progress
    zhuji = loop.villages["固城"].parent
    # made in this order, due 9月13日, 14日, 8日, 9日, 12日, 15日: overdue on 9月16日 by 3, 2, 8, 7, 4 and 1 days
    villages = ["姜山", "刘寨", "潼山", "红旗", "双井", "朱集"]
    for name, day in zip(villages, (13, 14, 8, 9, 12, 15)):
        made = loop.create(kind="order", region_code=loop.villages[name].code, matter="进度滞后",
                           due=f"2022-09-{day:02d}", interview=None)
        assert made.status_code == 201 and made.get_json()["overdue"] is True
    body = draft_body(progress(loop.week[1], zhuji))
    problems = body.split("存在问题")[1].split("下一步工作要求")[0]
    oldest = [f"{loop.villages[name].name}（督办〔2022〕{number}号）" for name, number in
              (("潼山", 3), ("红旗", 4), ("双井", 5))]
    assert f"共有6个督办事项逾期未报送整改情况，其中{'、'.join(oldest)}逾期最久。" in problems
    assert "第2期督办的" not in problems and loop.villages["朱集"].name not in problems
    requirements = body.split("下一步工作要求")[1]
    assert f"抓好督办整改。逾期未报送整改情况的6个督办事项特别是{'、'.join(oldest)}，请于" in requirements
    assert loop.villages["姜山"].name not in requirements


def test_five_overdue_items_are_still_named_one_by_one(loop):
    from reporting.circulars.circulars import draft_body
    from reporting.progress.ranking import progress
    zhuji = loop.villages["固城"].parent
    for name in ["姜山", "刘寨", "潼山", "红旗", "双井"]:
        loop.create(kind="order", region_code=loop.villages[name].code, matter="进度滞后", due="2022-09-10",
                    interview=None)
    body = draft_body(progress(loop.week[1], zhuji))
    assert body.count("逾期未报送整改情况。") == 5 and "共有" not in body
    assert f"第2期督办的{loop.villages['双井'].name}（督办〔2022〕5号）逾期未报送整改情况。" in body


# --- the demos ---------------------------------------------------------------------------------

def test_the_jiangmen_demo_shows_a_closed_interview_and_an_overdue_order(demo, client, auth):
    auth.login("jm_admin", "jiangmen-admin-2026")
    items = {i.region.name: i for i in db.session.scalars(select(SupervisionItem))}
    assert set(items) == {"恩平市", "鹤山市"}
    closed, overdue = items["恩平市"], items["鹤山市"]
    assert closed.kind == "interview" and closed.status == "closed" and len(closed.responses) == 1
    assert overdue.kind == "order" and overdue.is_overdue(dt.date(2026, 11, 27)) and not overdue.responses
    board = client.get("/dashboard/4407").get_data(as_text=True)
    assert 'href="/supervision/440784">督办1 <span class="badge red">逾期1</span>' in board
    assert 'href="/supervision/440785">' not in board  # closed: no longer counted
    # the county's filer has it on its 待办, overdue
    auth.logout()
    client.post("/login", data={"username": "filer_440784", "password": "jiangmen-filer-2026"})
    assert f"{overdue.number}（督办单）：鹤山市须于" in client.get("/").get_data(as_text=True)


def test_the_ninghe_demo_has_an_order_for_its_late_department(app, frozen_now):
    from reporting.demo.ninghe import load_ninghe
    frozen_now(dt.datetime(2026, 11, 27, 10, 0))
    load_ninghe(echo=lambda line: None)
    load_ninghe(echo=lambda line: None)  # idempotent: still one
    db.session.commit()
    items = db.session.scalars(select(SupervisionItem)).all()
    assert [(i.subject_name, i.kind, i.status) for i in items] == [("区委老干部局", "order", "open")]
    assert items[0].number == "督办〔2026〕1号" and "逾期未报送" in items[0].matter


# --- attachments -------------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_a_report_carries_pdf_and_images_that_only_readers_download(loop, client, auth, app, tmp_path):
    import io
    import os
    app.config["SUPERVISION_FILES"] = str(tmp_path / "files")
    item = loop.create().get_json()
    auth.login("zhuji")
    sent = client.post(f"/supervision/items/{item['id']}/response", content_type="multipart/form-data",
                       data={"text": "已入户动员", "attachments": [(io.BytesIO(PDF), "整改报告.pdf"),
                                                                  (io.BytesIO(PNG), "现场照片.png")]})
    assert sent.status_code == 303
    page = client.get(f"/supervision/items/{item['id']}").get_data(as_text=True)
    assert "整改报告.pdf" in page and "现场照片.png" in page
    from reporting.models import SupervisionAttachment
    files = db.session.scalars(select(SupervisionAttachment).order_by(SupervisionAttachment.id)).all()
    assert [(f.filename, f.content_type) for f in files] == [("整改报告.pdf", "application/pdf"),
                                                             ("现场照片.png", "image/png")]
    # kept under a random name outside the web root
    assert sorted(os.listdir(tmp_path / "files")) == sorted(f.stored_as for f in files)
    with client.get(f"/supervision/attachments/{files[0].id}") as download:
        assert download.data == PDF and download.mimetype == "application/pdf"
        assert "attachment" in download.headers["Content-Disposition"]
    auth.logout()
    auth.login("leader")
    with client.get(f"/supervision/attachments/{files[1].id}") as download:
        assert download.data == PNG
    auth.logout()
    auth.login("yongqiao")
    assert client.get(f"/supervision/attachments/{files[0].id}").status_code == 403


@pytest.mark.parametrize("name, data, message", [
    ("说明.docx", b"PK\x03\x04 a word file", "不是PDF或图片"),
    ("伪装.pdf", b"<html><script>alert(1)</script>", "不是PDF或图片"),
    ("空.pdf", b"", "是空文件"),
])
def test_other_files_are_refused_and_nothing_is_saved(loop, client, auth, app, tmp_path, name, data, message):
    import io
    app.config["SUPERVISION_FILES"] = str(tmp_path / "files")
    item = loop.create().get_json()
    auth.login("zhuji")
    refused = client.post(f"/supervision/items/{item['id']}/response", content_type="multipart/form-data",
                          data={"text": "已整改", "attachments": [(io.BytesIO(data), name)]})
    assert refused.status_code == 422 and message in refused.get_data(as_text=True)
    assert loop.call("GET", f"/supervision/{item['id']}", "zhuji").get_json()["status"] == "open"
    assert not (tmp_path / "files").exists() or not list((tmp_path / "files").iterdir())


def test_an_attachment_may_weigh_ten_megabytes_and_no_more():
    from reporting.supervision.supervision import SupervisionInvalid, attachment_type
    assert attachment_type("满.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024 - 5)) == "application/pdf"
    with pytest.raises(SupervisionInvalid, match="附件“大.pdf”超过10MB"):
        attachment_type("大.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024 - 4))
    assert attachment_type("照片.jpg", b"\xff\xd8\xff\xe0" + b"0" * 10) == "image/jpeg"


# --- the unit's group robots ---------------------------------------------------------------------

def test_the_units_robot_hears_of_the_item_once_and_a_day_before_its_time_limit(loop, runner, robot, frozen_now):
    """朱集镇's township filer answers for 固城: its robot is told when the item is made, and once
    more on the day before the 整改时限 however often the schedule runs; the reviewing county's is not."""
    hook = f"{robot.url}/send?key=zhuji"
    assert runner.invoke(args=["users", "webhook", "zhuji", "--kind", "wecom", "--url", hook]).exit_code == 0
    assert runner.invoke(args=["users", "webhook", "lingbi", "--kind", "wecom",
                               "--url", f"{robot.url}/send?key=lingbi"]).exit_code == 0
    item = loop.create(kind="order", due="2022-09-23").get_json()
    told = [payload["text"]["content"] for path, payload in robot.calls]
    assert told == [f"【督办】固城村委会：{item['number']}（督办单）连续2期排名末位，请于9月23日前报送整改报告。"
                    "宿州市医疗保障局"]
    assert all("key=zhuji" in path for path, _ in robot.calls) and len(robot.calls) == 1

    frozen_now(dt.datetime(2022, 9, 21, 9, 0))  # two days before: nothing yet
    assert runner.invoke(args=["reminders", "auto"]).output.splitlines()[0] == "督办提醒：0条"
    frozen_now(dt.datetime(2022, 9, 22, 9, 0))  # the day before
    for _ in range(2):  # the schedule runs again, or on a second instance: told once
        runner.invoke(args=["reminders", "auto"])
    reminders = [payload["text"]["content"] for path, payload in robot.calls[1:]]
    assert len(reminders) == 1 and reminders[0].startswith("【督办提醒】") and "整改时限为9月23日（明天）" in reminders[0]
    notices = db.session.scalars(select(SupervisionNotice).order_by(SupervisionNotice.id)).all()
    assert [(n.occasion, n.outcome) for n in notices] == [("created", "sent"), ("due_soon", "sent")]


def test_the_items_page_lists_its_robot_notices_to_its_readers(loop, runner, robot, frozen_now, client, auth):
    """Each notice with its occasion, robot, outcome (a failure by its category) and time, on the item's
    page for those who read it; the robot's address is never shown."""
    hook = f"{robot.url}/send?key=zhuji-secret"
    runner.invoke(args=["users", "webhook", "zhuji", "--kind", "wecom", "--url", hook])
    item = loop.create(kind="order", due="2022-09-23").get_json()
    robot.script = [("errcode", 93000)]
    frozen_now(dt.datetime(2022, 9, 22, 9, 0))
    runner.invoke(args=["reminders", "auto"])
    for reader in ("suzhou", "zhuji", "leader"):
        auth.login(reader)
        page = client.get(f"/supervision/items/{item['id']}").get_data(as_text=True)
        notices = page[page.index('id="notices"'):]
        rows = notices.split("<tr>")[2:]
        assert len(rows) == 2
        assert "建立督办事项时" in rows[0] and "企业微信群机器人" in rows[0] and "已送达" in rows[0]
        assert "2022年9月16日" in rows[0]
        assert "整改时限前一天" in rows[1] and "未送达" in rows[1] and "对方拒绝（errcode 93000）" in rows[1]
        assert "2022年9月22日 09:00" in rows[1]
        assert "zhuji-secret" not in page and robot.url not in page
        auth.logout()
    auth.login("yongqiao")
    assert client.get(f"/supervision/items/{item['id']}").status_code == 403


def test_an_item_without_robots_says_so_on_its_page(loop, client, auth):
    item = loop.create().get_json()
    auth.login("suzhou")
    page = client.get(f"/supervision/items/{item['id']}").get_data(as_text=True)
    assert "尚未向固城村委会的群机器人发送通知" in page


def test_an_answered_item_is_not_chased_and_a_refused_robot_is_kept_as_its_category(loop, runner, robot, frozen_now):
    runner.invoke(args=["users", "webhook", "zhuji", "--kind", "wecom", "--url", f"{robot.url}/send?key=z"])
    robot.script = [("errcode", 93000)]
    item = loop.create(kind="order", due="2022-09-23").get_json()
    notice = db.session.scalar(select(SupervisionNotice))
    assert (notice.outcome, notice.error) == ("failed", "对方拒绝（errcode 93000）")
    assert loop.call("POST", f"/supervision/{item['id']}/response", "zhuji", {"text": "已入户动员"}).status_code == 200
    frozen_now(dt.datetime(2022, 9, 22, 9, 0))
    runner.invoke(args=["reminders", "auto"])
    assert len(robot.calls) == 1  # answered: no 督办提醒
