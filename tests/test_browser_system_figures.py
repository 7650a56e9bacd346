"""Journey: the demo's 信息系统数据 — a filer checks the village far off, the city sees 鹤山市 ahead and
loads a corrected export."""
import re

import pytest
from playwright.sync_api import expect

from reporting.progress.ranking import progress
from reporting.regions.hierarchy import region_by_code

from .conftest import browser_login

pytestmark = pytest.mark.browser


def test_a_filer_is_sent_from_the_home_page_to_the_row_to_check(page, demo):
    fourth = demo.periods[3]  # the last period due on the demo's day: the system's figures are for it
    browser_login(page, "filer_440783", "jiangmen-filer-2026")
    todo = page.locator("#todo li.todo-system")
    expect(todo).to_contain_text("核实与信息系统的差异")
    expect(todo).to_contain_text(re.compile(r"东河社区居委会与信息系统相差[\d,]+人"))
    todo.locator("a").click()
    page.wait_for_url(f"**/filing/{fourth.id}/440783**")
    flags = page.locator("table .system-flag")
    expect(flags).to_have_count(1)
    expect(page.locator("tr.unit", has=page.locator(".system-flag"))).to_contain_text("东河社区居委会")


def test_the_city_sees_the_county_ahead_and_loads_a_corrected_export(page, demo, tmp_path):
    fourth = demo.periods[3]
    heshan = next(r for r in progress(fourth, region_by_code("4407")).children if r.region.code == "440784")
    assert heshan.system_mismatch
    browser_login(page, "jm_admin", "jiangmen-admin-2026")
    page.goto(f"/dashboard/4407?period={fourth.id}")
    row = page.locator("#ranking tbody tr", has_text="鹤山市")
    expect(row.locator(".system-flag")).to_have_text(f"与信息系统相差{heshan.system_difference:,}人")
    expect(page.locator("#ranking .system-flag")).to_have_count(1)

    page.get_by_role("link", name="导入信息系统数据").click()
    expect(page.locator("#system-stored")).to_contain_text("数据日期")
    # the province's corrected export gives the counties only: 鹤山市 now as typed
    export = tmp_path / "corrected.csv"
    export.write_text(f"单位代码,居民医保已参保人数\n440784,{heshan.typed['enrolled']}\n", encoding="utf-8")
    page.set_input_files("input[type=file]", str(export))
    page.get_by_role("button", name="导入").click()
    expect(page.locator("body")).to_contain_text("的信息系统数据：1行，2个单位（其中1个由下级合计）")
    page.goto(f"/dashboard/4407?period={fourth.id}")
    expect(page.locator("#ranking .system-flag")).to_have_count(0)
    expect(page.locator("#ranking tbody tr", has_text="鹤山市")).to_contain_text(f"{heshan.typed['enrolled']:,}")
