"""Journey: the city admin sees 较上年同期 on the dashboard's head and ranking, and in the draft 通报."""
import re

import pytest
from playwright.sync_api import expect

from reporting import clock
from reporting.calendar.schedule import current_period
from reporting.progress.ranking import progress
from reporting.regions.hierarchy import region_by_code

from .conftest import browser_login

pytestmark = pytest.mark.browser


def test_dashboard_compares_with_the_same_time_last_year(page, demo):
    city = region_by_code("4407")
    result = progress(current_period(demo, clock.today()), city)
    change = result.region.yoy_change(result.measure)
    people = result.region.yoy_enrolled
    browser_login(page, "jm_admin", "jiangmen-admin-2026")
    page.get_by_role("navigation").get_by_role("link", name="督导").click()
    page.wait_for_url("**/dashboard/4407")
    head = page.locator("dl.kpis div", has_text="较上年同期")
    expect(head.locator("dt")).to_have_text("较上年同期")
    expect(head.locator("dd")).to_contain_text(
        f"{'提高' if change >= 0 else '下降'}{abs(change) * 100:.2f}个百分点")
    expect(head.locator("dd")).to_contain_text(f"参保人数{'增加' if people >= 0 else '减少'}{abs(people):,}人")
    ranking = page.locator("#ranking")
    expect(ranking.locator("thead th", has_text="较上年同期")).to_have_count(1)
    first = ranking.locator("tbody tr").first.locator("td.yoy")
    expect(first).to_have_text(re.compile(r"^[+-]\d+\.\d{2}"))


def test_dashboard_chart_draws_last_years_course_beside_this_years(page, demo):
    city = region_by_code("4407")
    result = progress(current_period(demo, clock.today()), city)
    course = result.region.last_year.course
    browser_login(page, "jm_admin", "jiangmen-admin-2026")
    page.goto("/dashboard/4407")
    chart = page.locator("#charts svg").first
    expect(chart).to_be_visible(timeout=15_000)
    line = chart.locator("g.last-year")
    expect(line).to_have_count(1)
    expect(line.locator("circle")).to_have_count(len(course))
    expect(chart.locator("g.legend")).to_contain_text("上年同期")
    # last year's line is drawn, not hidden: it has height on the page
    box = line.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 10


def test_draft_circular_says_how_this_year_stands_against_last_year(page, demo):
    fourth = demo.periods[3]
    browser_login(page, "jm_admin", "jiangmen-admin-2026")
    page.get_by_role("navigation").get_by_role("link", name="通报").click()
    page.wait_for_url("**/circulars/")
    draft = page.locator("form.inline-form")
    draft.get_by_label("期次").select_option(label=fourth.label)
    draft.get_by_role("button", name="按当前数据起草通报").click()
    page.wait_for_url("**/circulars/*/edit")
    text = page.get_by_label("正文").input_value()
    assert re.search(r"与上年同期（截至2025年11月14日）相比，已参保缴费人数(增加|减少)[\d,]+人，"
                     r"完成率较上年同期(提高|下降)\d+\.\d{2}个百分点。", text), text[:400]
    preview = page.frame_locator("#preview iframe")
    expect(preview.locator("body")).to_contain_text("较上年同期", timeout=15_000)
