"""Journeys of the loop back down: the city returns a village and approves its fix; the city 催报 the
late counties and a county sees it; a county opens the issued 通报."""
import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from reporting.circulars.circulars import issue, new_draft
from reporting.extensions import db
from reporting.models import User
from reporting.regions.hierarchy import region_by_code

from .conftest import browser_login, make_user, two_counties_filed, villages

pytestmark = pytest.mark.browser

XINHUI = "440705"


@pytest.fixture
def filed(jiangmen, frozen_now):
    """Period 1: 新会区 and 蓬江区 submitted every village; the other five counties nothing. 10月7日."""
    campaign = two_counties_filed(jiangmen, frozen_now)
    period = campaign.periods[0]
    make_user("admin", "city_admin", "4407")
    make_user("xinhui", "county_filer", XINHUI)
    make_user("taishan", "county_filer", "440781")
    frozen_now(dt.datetime(2022, 10, 7, 9, 0))
    return period


def sign_out(page):
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login**")


def test_city_returns_a_village_the_county_fixes_it_and_the_city_approves(page, filed):
    period, unit = filed, villages(XINHUI)[0]
    browser_login(page, "admin")
    page.goto(f"/dashboard/4407?period={period.id}")
    page.get_by_role("link", name="报表审核（退回 / 审核通过）").click()
    page.get_by_role("link", name="新会区").click()
    row = page.locator(f"#r-{unit}")
    expect(row).to_contain_text("待审核")
    row.get_by_label("退回原因").fill("新生儿已参保人数与信息系统不符，请核实")
    row.get_by_role("button", name="退回").click()
    expect(page.locator(".flash")).to_contain_text("已退回")
    expect(page.locator(f"#r-{unit}")).to_contain_text("已退回")
    sign_out(page)

    browser_login(page, "xinhui")
    todo = page.locator("#todo")
    expect(todo).to_contain_text("新生儿已参保人数与信息系统不符，请核实")
    todo.get_by_role("link", name="报表已退回").click()
    grid_row = page.locator(f"#u-{unit}")
    expect(grid_row).to_contain_text("已退回")
    expect(grid_row).to_contain_text("新生儿已参保人数与信息系统不符")
    newborns = page.locator(f"#c-{unit}-newborns_enrolled")
    newborns.fill("26")
    expect(grid_row).to_contain_text("已修改，待重新提交")
    page.get_by_role("button", name="提交修改").click()
    expect(page.locator(".flash")).to_contain_text("已提交")
    expect(page.locator(f"#u-{unit}")).not_to_contain_text("已退回")
    sign_out(page)

    browser_login(page, "admin")
    page.goto(f"/review/{XINHUI}?period={period.id}")
    row = page.locator(f"#r-{unit}")
    expect(row).to_contain_text("重新提交")
    expect(row.locator("del")).to_have_text("20")
    expect(row.locator("ins")).to_have_text("26")
    row.get_by_role("button", name="审核通过").click()
    expect(page.locator(f"#r-{unit}")).to_contain_text("已审核")


def test_city_chases_the_late_counties_and_a_county_sees_it(page, filed):
    period = filed
    browser_login(page, "admin")
    page.goto(f"/dashboard/4407?period={period.id}")
    page.locator(".status-board").get_by_role("link", name="催报", exact=True).click()
    page.get_by_role("button", name="一键催报").click()
    page.locator("#reminder-preview").get_by_role("button", name="全部发送").click()
    expect(page.locator(".flash")).to_contain_text("已向5个单位催报")
    text = page.get_by_label("台山市催报内容")
    expect(text).to_have_value("【催报】台山市医疗保障局：第1期参保进度表报送截止10月8日（还有1天），"
                               f"尚有{region_by_code('440781').villages}个村（社区）未报送，请于截止前报送。江门市医疗保障局")
    page.get_by_role("link", name="返回督导页").click()
    expect(page.locator(".status-board")).to_contain_text("已催报1次")
    sign_out(page)

    browser_login(page, "taishan")
    todo = page.locator("#todo")
    expect(todo).to_contain_text("收到催报")
    expect(todo).to_contain_text("【催报】台山市医疗保障局：第1期参保进度表报送截止10月8日（还有1天）")
    todo.get_by_role("link", name="收到催报（第1期（截至9月30日））").click()
    expect(page.locator("h1")).to_contain_text("参保进度表")


def test_city_previews_the_texts_edits_one_and_sends_to_the_chosen_counties(page, filed):
    period = filed
    browser_login(page, "admin")
    page.goto(f"/dashboard/4407?period={period.id}")
    page.locator(".status-board").get_by_role("link", name="一键催报").click()
    preview = page.locator("#reminder-preview")
    taishan = preview.get_by_label("发给台山市的催报")
    expect(taishan).to_have_value(re.compile(r"^【催报】台山市医疗保障局：第1期参保进度表报送截止10月8日（还有1天）"))
    expect(preview.get_by_role("checkbox")).to_have_count(5)
    taishan.fill("【催报】台山市医疗保障局：请今天下班前报送第1期参保进度表。江门市医疗保障局")
    preview.get_by_label("恩平市", exact=True).uncheck()
    preview.get_by_role("button", name="发送所选").click()
    expect(page.locator(".flash")).to_contain_text("已向4个单位催报")
    expect(page.get_by_label("台山市催报内容")).to_have_value(
        "【催报】台山市医疗保障局：请今天下班前报送第1期参保进度表。江门市医疗保障局")
    expect(page.locator("#sent")).not_to_contain_text("恩平市")

    # on the reminders page the preview comes in place (htmx); an emptied text is refused, nothing sent
    page.get_by_role("button", name="一键催报").click()
    preview.get_by_label("发给恩平市的催报").fill("")
    preview.get_by_role("button", name="全部发送").click()
    expect(preview.get_by_role("alert")).to_have_text("恩平市的催报内容不能为空")
    expect(page.locator("#sent article")).to_have_count(1)
    sign_out(page)

    browser_login(page, "taishan")
    expect(page.locator("#todo")).to_contain_text("请今天下班前报送第1期参保进度表")


def test_a_county_opens_the_issued_circular(page, filed):
    admin = db.session.scalar(db.select(User).where(User.username == "admin"))
    circular = issue(new_draft(filed, region_by_code("4407"), admin), admin)
    db.session.commit()
    browser_login(page, "xinhui")
    todo = page.locator("#todo")
    expect(todo).to_contain_text(f"未读通报：{circular.doc_number}")
    todo.get_by_role("link", name=f"未读通报：{circular.doc_number}", exact=False).click()
    standing = page.locator("#standing")
    expect(standing).to_contain_text("新会区在本期通报中的情况")
    expect(standing.locator("tr.mine")).to_contain_text("新会区（本单位）")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载PDF").click()
    path = download.value.path()
    with open(path, "rb") as f:
        assert f.read(4) == b"%PDF"
    page.goto("/")
    expect(page.locator("#todo")).not_to_contain_text("未读通报")
