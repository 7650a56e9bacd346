"""Journey (宁河区 demo): the 区 admin returns 区民政局's week with a reason; its filer sees it on the home
page, fixes it and resubmits; the admin approves, and the form is locked."""
import re

import pytest
from playwright.sync_api import expect

from .conftest import browser_login

pytestmark = pytest.mark.browser


def sign_out(page):
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login*")
    page.wait_for_load_state("networkidle")


def test_district_returns_the_civil_affairs_report_and_approves_the_fix(page, ninghe):
    week = ninghe.periods[7]
    browser_login(page, "nh_minzheng", "ninghe-filer-2026")
    page.wait_for_load_state("networkidle")
    page.get_by_role("link", name=f"填报{week.label}进度表").click()
    page.wait_for_url(re.compile(r"/departments/\d+/\d+$"))
    page.get_by_label("救助对象应参保人数").fill("4860")
    page.get_by_label("救助对象已参保人数").fill("4931")  # a slip: more enrolled than should enroll
    page.get_by_label("单位负责人").fill("刘局长")
    page.get_by_role("button", name="提交", exact=True).click()
    page.get_by_label("以上提示已核实，确认无误").check()
    page.get_by_role("button", name="提交", exact=True).click()
    expect(page.locator("#report-status")).to_contain_text("已提交")
    sign_out(page)

    browser_login(page, "nh_admin", "ninghe-admin-2026")
    page.goto(f"/review/120117?period={week.id}")
    row = page.locator("#departments tr", has_text="区民政局")
    expect(row).to_contain_text("待审核")
    row.get_by_label("区民政局退回原因").fill("救助对象已参保人数大于应参保人数，请核实")
    row.get_by_role("button", name="退回").click()
    expect(page.locator(".flash")).to_have_text("已退回区民政局的报表")
    expect(page.locator("#departments tr", has_text="区民政局")).to_contain_text("已退回")
    sign_out(page)

    browser_login(page, "nh_minzheng", "ninghe-filer-2026")
    todo = page.locator("#todo")
    expect(todo).to_contain_text(f"{week.label}的报表已退回，请修改后重新提交")
    expect(todo).to_contain_text("退回原因：救助对象已参保人数大于应参保人数，请核实")
    expect(page.locator("#reported")).to_contain_text("已退回")
    todo.get_by_role("link", name=re.compile("已退回")).click()
    page.wait_for_url(re.compile(r"/departments/\d+/\d+$"))
    expect(page.locator("#report-status")).to_contain_text("已退回")
    expect(page.locator("#return-reason")).to_contain_text("救助对象已参保人数大于应参保人数")
    page.get_by_label("救助对象已参保人数").fill("4391")
    page.get_by_role("button", name="重新提交").click()
    expect(page.locator(".flash")).to_have_text(f"已提交区民政局{week.label}的进度表")
    expect(page.locator("#report-status")).to_contain_text("已提交")
    expect(page.locator("#return-reason")).to_have_count(0)
    sign_out(page)

    browser_login(page, "nh_admin", "ninghe-admin-2026")
    page.goto(f"/review/120117?period={week.id}")
    row = page.locator("#departments tr", has_text="区民政局")
    expect(row).to_contain_text("待审核")
    expect(row).to_contain_text("退回原因：救助对象已参保人数大于应参保人数，请核实")
    expect(row.locator(".diff")).to_contain_text("救助对象已参保人数：4,931 → 4,391")
    row.get_by_role("button", name="审核通过").click()
    expect(page.locator(".flash")).to_have_text("已审核通过区民政局的报表")
    expect(page.locator("#departments tr", has_text="区民政局")).to_contain_text("已审核")
    sign_out(page)

    browser_login(page, "nh_minzheng", "ninghe-filer-2026")
    expect(page.locator("#reported")).to_contain_text("已审核通过")
    page.get_by_role("link", name=f"填报{week.label}进度表").click()
    expect(page.locator("#lock-note")).to_contain_text("已审核通过并锁定")
    expect(page.get_by_label("救助对象已参保人数")).to_have_value("4391")
    expect(page.get_by_label("救助对象已参保人数")).to_have_attribute("readonly", "")
    expect(page.get_by_role("button", name="提交修改")).to_have_count(0)
