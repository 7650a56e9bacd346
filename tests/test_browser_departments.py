"""Journey (宁河区 demo): 区民政局 files the week and submits; the 区 sees it in its 部门 section; the
通报 drafted for the last week that was due names the late department."""
import re

import pytest
from playwright.sync_api import expect

from .conftest import browser_login

pytestmark = pytest.mark.browser


def test_department_files_and_the_district_sees_it(page, ninghe):
    open_week, last_due = ninghe.periods[7], ninghe.periods[6]
    browser_login(page, "nh_minzheng", "ninghe-filer-2026")
    expect(page.locator("h1")).to_have_text("区民政局")
    expect(page.locator("#reported")).to_contain_text("尚未填报")
    page.wait_for_load_state("networkidle")
    page.get_by_role("link", name=f"填报{open_week.label}进度表").click()
    page.wait_for_url(re.compile(r"/departments/\d+/\d+$"))
    expect(page.locator("#report-status")).to_contain_text("待报")  # before its due date
    page.get_by_label("救助对象应参保人数").fill("4860")
    page.get_by_label("救助对象已参保人数").fill("4391")
    page.get_by_label("单位负责人").fill("刘局长")
    page.get_by_role("button", name="提交", exact=True).click()
    expect(page.locator(".flash")).to_have_text(f"已提交区民政局{open_week.label}的进度表")
    expect(page.locator("#report-status")).to_contain_text("已提交")
    expect(page.get_by_label("救助对象已参保人数")).to_have_value("4391")
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login*")
    page.wait_for_load_state("networkidle")

    browser_login(page, "nh_admin", "ninghe-admin-2026")
    page.goto("/dashboard/120117")
    departments = page.locator("#departments")
    row = departments.locator("tr", has_text="区民政局")
    expect(row).to_contain_text("4,391")
    expect(row).to_contain_text("90.35%")  # 4,391 of its task of 4,860
    expect(row).to_contain_text("按时")
    board = page.locator(".status-board")
    expect(board.locator("li", has_text="区民政局")).to_contain_text("按时")
    expect(board.locator("li", has_text="芦台街道")).to_be_visible()  # towns and departments together

    # the 通报 of the last week that was due: 区委老干部局 has not filed it
    page.get_by_role("navigation").get_by_role("link", name="通报").click()
    draft = page.locator("form.inline-form")
    draft.get_by_label("期次").select_option(label=last_due.label)
    draft.get_by_role("button", name="按当前数据起草通报").click()
    page.wait_for_url("**/circulars/*/edit")
    body = page.get_by_label("正文")
    expect(body).to_have_value(re.compile(r"\n三、部门报送情况\n"))
    assert "区委老干部局未按时报送参保缴费进度，予以通报批评。" in body.input_value()
    preview = page.frame_locator("#preview iframe")
    expect(preview.locator("body")).to_contain_text("部门报送情况表")
    # the department table's 报送 cell: one short state (按时, 逾期, 未报, 待报)
    expect(preview.locator("tr", has_text="区委老干部局").last).to_contain_text("未报")
