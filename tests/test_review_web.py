"""The pages of the loop back down: review and 催报 pages, the grid's 已退回 rows, the status board,
the 通报 a county reads, and the home page as a to-do list."""

from sqlalchemy import func, select

from reporting.circulars.circulars import issue, new_draft
from reporting.extensions import db
from reporting.filing import reviewed
from reporting.models import CircularRead, Region, ReminderMessage
from reporting.regions.hierarchy import region_by_code
from reporting.review import review

from .conftest import make_user, villages
from .fixtures.review import XINHUI, user


def test_review_page_returns_and_the_filer_sees_it_everywhere(first_period_filed, client, auth):
    campaign, period = first_period_filed
    unit = villages(XINHUI)[0]
    auth.login("admin")
    page = client.get(f"/review/{XINHUI}?period={period.id}").get_data(as_text=True)
    assert "报表审核" in page and f'id="r-{unit}"' in page and "待审核" in page
    fragment = client.get(f"/review/{XINHUI}?period={period.id}", headers={"HX-Request": "true"})
    assert "<html" not in fragment.get_data(as_text=True) and 'id="review"' in fragment.get_data(as_text=True)
    assert fragment.headers["Vary"] == "HX-Request" or "HX-Request" in fragment.headers["Vary"]

    no_reason = client.post(f"/review/{XINHUI}/{period.id}/units/{unit}", data={"action": "return", "reason": ""})
    assert no_reason.status_code == 422 and "退回须填写原因" in no_reason.get_data(as_text=True)
    done = client.post(f"/review/{XINHUI}/{period.id}/units/{unit}",
                       data={"action": "return", "reason": "新生儿人数与信息系统不符"})
    assert done.status_code == 303
    auth.logout()

    auth.login("xinhui")
    home = client.get("/").get_data(as_text=True)
    assert "报表已退回" in home and "新生儿人数与信息系统不符" in home and f"#u-{unit}" in home
    grid = client.get(f"/filing/{period.id}/{XINHUI}").get_data(as_text=True)
    row = grid[grid.index(f'id="u-{unit}"'):]
    row = row[:row.index("</tr>")]
    assert "已退回" in row and "新生儿人数与信息系统不符" in row
    history = client.get(f"/filing/{period.id}/{XINHUI}/history").get_data(as_text=True)
    assert "审核记录" in history and "新生儿人数与信息系统不符" in history
    # a filer reviews nothing of their own
    refused = client.post(f"/review/{XINHUI}/{period.id}/units/{villages(XINHUI)[1]}", data={"action": "approve"})
    assert refused.status_code == 403

    # typing in the returned row is held aside; the grid's submit resubmits it
    cell = client.post(f"/filing/{period.id}/{XINHUI}/units/{unit}", data={"newborns_enrolled": "25"},
                       headers={"HX-Request": "true"})
    assert cell.status_code == 200 and "已修改，待重新提交" in cell.get_data(as_text=True)
    assert client.get(f"/api/v1/reports/{unit}/{period.id}").status_code == 401  # (the API needs a token)
    assert reviewed.status(review_report(period, unit)) == "returned"
    submitted = client.post(f"/filing/{period.id}/{XINHUI}/submit",
                            data={"filer_name": "黄丽华", "filer_phone": "13802216103", "filer_head": "张局长"})
    assert submitted.status_code == 303, submitted.get_data(as_text=True)
    report = review_report(period, unit)
    assert reviewed.status(report) == "submitted" and report.values(campaign.indicators)["newborns_enrolled"] == 25
    auth.logout()

    auth.login("admin")
    page = client.get(f"/review/{XINHUI}?period={period.id}").get_data(as_text=True)
    row = page[page.index(f'id="r-{unit}"'):]
    assert "重新提交" in row[:row.index("</tr>")] and "<del>20</del> → <ins>25</ins>" in row[:row.index("</tr>")]


def test_a_returned_unit_is_resubmitted_from_its_row(first_period_filed, client, auth, frozen_now):
    """Even while other units of the grid are unfiled, which keeps the grid's own 提交 refused."""
    campaign, period = first_period_filed
    unfiled = villages(XINHUI)[-1]
    from reporting.models import Report, Revision
    gone = review_report(period, unfiled)
    db.session.execute(Revision.__table__.delete().where(Revision.report_id == gone.id))
    db.session.delete(gone)
    db.session.commit()
    unit = villages(XINHUI)[0]
    review.act(period, region_by_code(unit), "return", user("admin"), "请核实新生儿")
    db.session.commit()
    auth.login("xinhui")
    client.post(f"/filing/{period.id}/{XINHUI}/units/{unit}", data={"newborns_enrolled": "30"},
                headers={"HX-Request": "true"})
    grid = client.get(f"/filing/{period.id}/{XINHUI}").get_data(as_text=True)
    assert f'action="/filing/{period.id}/{XINHUI}/units/{unit}/resubmit"' in grid
    answer = client.post(f"/filing/{period.id}/{XINHUI}/units/{unit}/resubmit")
    assert answer.status_code == 303 and answer.location.endswith(f"/filing/{period.id}/{XINHUI}#u-{unit}")
    report = review_report(period, unit)
    assert reviewed.status(report) == "submitted" and report.values(campaign.indicators)["newborns_enrolled"] == 30
    assert db.session.scalar(select(Report).where(Report.region_id == region_by_code(unfiled).id)) is None
    again = client.post(f"/filing/{period.id}/{XINHUI}/units/{unit}/resubmit", follow_redirects=True)
    assert "未退回，无需重新提交" in again.get_data(as_text=True)
    assert review_report(period, unit).revision == report.revision  # nothing written


def review_report(period, code):
    from reporting.models import Report
    db.session.expire_all()
    return db.session.scalar(select(Report).join(Region).where(Region.code == code, Report.period_id == period.id))


def test_bulk_approval_locks_the_grid_rows(first_period_filed, client, auth):
    campaign, period = first_period_filed
    auth.login("admin")
    answer = client.post(f"/review/{XINHUI}/{period.id}/all", data={"action": "approve"})
    assert answer.status_code == 303
    refused = client.post(f"/review/4407/{period.id}/all", data={"action": "return"})
    assert refused.status_code == 422 and "退回须填写原因" in refused.get_data(as_text=True)
    board = client.get(f"/dashboard/4407?period={period.id}").get_data(as_text=True)
    assert f"已审核{len(villages(XINHUI))}" in board and "审核：待审核" in board
    auth.logout()
    auth.login("xinhui")
    grid = client.get(f"/filing/{period.id}/{XINHUI}").get_data(as_text=True)
    unit = villages(XINHUI)[0]
    row = grid[grid.index(f'id="u-{unit}"'):]
    row = row[:row.index("</tr>")]
    assert "已审核" in row and "disabled" in row and "hx-post" not in row
    # every unit approved: the panel offers no 提交, says 已锁定 and who reopens it; a 提交 sent anyway
    # is refused with the same words instead of saying 已提交
    panel = grid[grid.index('id="submit-panel"'):]
    assert "已锁定" in panel and "江门市医疗保障局" in panel and "提交修改</button>" not in panel
    again = client.post(f"/filing/{period.id}/{XINHUI}/submit",
                        data={"filer_name": "黄丽华", "filer_phone": "13802216103", "filer_head": "张局长"})
    assert again.status_code == 409 and "已锁定" in again.get_data(as_text=True)
    assert "已提交新会区" not in again.get_data(as_text=True)


def test_reminder_page_sends_and_the_county_sees_it_on_its_home_page(first_period_filed, client, auth):
    campaign, period = first_period_filed
    auth.login("admin")
    page = client.get(f"/reminders/4407?period={period.id}").get_data(as_text=True)
    assert "一键催报" in page and "台山市" in page and "新会区" not in page.split("催报记录")[0]
    sent = client.post(f"/reminders/4407/{period.id}")
    assert sent.status_code == 303
    listed = client.get(f"/reminders/4407?period={period.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in listed and "【催报】台山市医疗保障局：第1期参保进度表报送截止10月8日（已逾期2天）" in listed
    board = client.get(f"/dashboard/4407?period={period.id}").get_data(as_text=True)
    assert "已催报1次（2022年10月10日 09:00）" in board
    auth.logout()
    make_user("taishan", "county_filer", "440781")
    auth.login("taishan")
    home = client.get("/").get_data(as_text=True)
    assert "收到催报" in home and "【催报】台山市医疗保障局" in home and "请尽快报送" in home
    assert "第1期（截至9月30日）已逾期" in home


def test_reminder_preview_sends_the_chosen_units_their_edited_texts(first_period_filed, client, auth):
    campaign, period = first_period_filed
    auth.login("admin")
    url = f"/reminders/4407/{period.id}/preview"
    page = client.get(url).get_data(as_text=True)
    assert "<html" in page and "催报预览" in page and 'aria-label="发给台山市的催报"' in page
    assert "【催报】台山市医疗保障局：第1期参保进度表报送截止10月8日（已逾期2天）" in page
    fragment = client.get(url, headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and body.lstrip().startswith('<section id="reminder-preview"')
    assert "HX-Request" in fragment.headers["Vary"]

    form = {"text-440781": "【催报】台山市医疗保障局：请今日报送。江门市医疗保障局",
            "text-440785": "【催报】恩平市医疗保障局：请今日报送。江门市医疗保障局"}
    # an emptied text, or no unit chosen: the preview again (422) with what was typed, nothing sent
    empty = client.post(f"/reminders/4407/{period.id}", data={**form, "text-440785": " ", "scope": "all"},
                        headers={"HX-Request": "true"})
    assert empty.status_code == 422 and "恩平市的催报内容不能为空" in empty.get_data(as_text=True)
    assert "请今日报送" in empty.get_data(as_text=True)
    none = client.post(f"/reminders/4407/{period.id}", data={**form, "scope": "chosen"})
    assert none.status_code == 422 and "请至少勾选一个单位" in none.get_data(as_text=True)
    assert db.session.scalar(select(func.count(ReminderMessage.id))) == 0

    sent = client.post(f"/reminders/4407/{period.id}", data={**form, "unit": ["440781"], "scope": "chosen"})
    assert sent.status_code == 303
    messages = db.session.scalars(select(ReminderMessage)).all()
    assert [(m.region.code, m.text) for m in messages] == [("440781", "【催报】台山市医疗保障局：请今日报送。江门市医疗保障局")]
    # 全部发送: every unit shown, with its text as it stands in the form
    everyone = client.post(f"/reminders/4407/{period.id}", data={**form, "scope": "all"})
    assert everyone.status_code == 303
    assert db.session.scalar(select(func.count(ReminderMessage.id))) == 3


def test_a_county_reads_the_issued_circular_and_its_standing(first_period_filed, client, auth):
    campaign, period = first_period_filed
    circular = issue(new_draft(period, region_by_code("4407"), user("admin")), user("admin"))
    db.session.commit()
    auth.login("xinhui")
    home = client.get("/").get_data(as_text=True)
    assert "未读通报" in home and circular.doc_number in home
    assert "未读" in home[home.index('id="circulars"'):]
    archive = client.get("/circulars/").get_data(as_text=True)
    assert circular.doc_number in archive and "未读" in archive
    page = client.get(f"/circulars/{circular.id}").get_data(as_text=True)
    assert "新会区在本期通报中的情况" in page and "（本单位）" in page and "第1名" in page
    assert db.session.get(CircularRead, (circular.id, user("xinhui").id)) is not None
    home = client.get("/").get_data(as_text=True)
    assert "未读通报" not in home
    listed = home[home.index('id="circulars"'):]
    assert circular.doc_number in listed and "未读" not in listed  # still listed, now read
    pdf = client.get(f"/circulars/{circular.id}.pdf")
    assert pdf.data.startswith(b"%PDF")
    # a draft of the city is still the city's
    draft = new_draft(period, region_by_code("4407"), user("admin"))
    db.session.commit()
    assert client.get(f"/circulars/{draft.id}").status_code == 403


def test_an_admin_sets_a_units_group_robot(first_period_filed, client, auth):
    auth.login("admin")
    xinhui = user("xinhui")
    page = client.get(f"/admin/users/{xinhui.id}").get_data(as_text=True)
    assert "催报群机器人" in page and "企业微信群机器人" in page and "钉钉自定义机器人" in page
    bad = client.post(f"/admin/users/{xinhui.id}/webhooks", data={"kind": "wecom", "url": "ftp://x"},
                      follow_redirects=True)
    assert "机器人地址应以 https:// 开头" in bad.get_data(as_text=True)
    done = client.post(f"/admin/users/{xinhui.id}/webhooks",
                       data={"kind": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=t",
                             "secret": "SECabc", "mobiles": "13900000001"})
    assert done.status_code == 303
    from reporting.reminders.reminders import webhooks_of
    hook = webhooks_of(xinhui)["dingtalk"]
    assert (hook.secret, hook.mobiles) == ("SECabc", "13900000001")
    assert 'value="https://oapi.dingtalk.com/robot/send?access_token=t"' in client.get(
        f"/admin/users/{xinhui.id}").get_data(as_text=True)
    client.post(f"/admin/users/{xinhui.id}/webhooks", data={"kind": "dingtalk", "url": ""})
    db.session.expire_all()
    assert webhooks_of(xinhui) == {}
    auth.logout()
    auth.login("xinhui")
    assert client.post(f"/admin/users/{xinhui.id}/webhooks",
                       data={"kind": "wecom", "url": "https://example.com/x"}).status_code == 403
