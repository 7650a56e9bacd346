"""Journey: the city admin supervises 江门市: head figures, 约谈, whom to call, a sorted ranking, export, drill-down."""
import io
import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from reporting import clock
from reporting.calendar.schedule import current_period
from reporting.extensions import db
from reporting.filters import count, percent
from reporting.models import User
from reporting.progress.ranking import progress
from reporting.regions.hierarchy import region_by_code

from .conftest import browser_login

pytestmark = pytest.mark.browser


def test_city_admin_supervises_sorts_exports_and_drills_down(page, demo, tmp_path):
    city = region_by_code("4407")
    current = current_period(demo, clock.today())
    fourth = demo.periods[3]
    now = progress(current, city)
    browser_login(page, "jm_admin", "jiangmen-admin-2026")
    page.get_by_role("navigation").get_by_role("link", name="督导").click()
    page.wait_for_url("**/dashboard/4407")
    expect(page.get_by_label("期次")).to_have_value(str(current.id))  # the current period opens

    # the head: the city's figures as the roll-up computes them
    kpis = page.locator("dl.kpis")
    head = now.region
    missing = head.counts.units - head.counts.submitted
    assert missing > 0  # the current period is partly filed
    expect(kpis.locator("div", has_text="已参保").locator("dd")).to_have_text(f"{count(head.enrolled)}人")
    expect(kpis.locator("div").filter(has=page.locator("dt", has_text=re.compile("^完成率$"))).locator("dd")
           ).to_have_text(percent(head.completion))
    expect(kpis.locator("div", has_text="序时进度").locator("dd")).to_have_text(percent(now.time_progress))
    expect(page.locator("#reporting-status")).to_have_text(
        f"已报 {count(head.counts.submitted)}/{count(head.counts.units)}，待报 {count(missing)}")

    # the ranking and the two inline charts
    rows = page.locator("#ranking tbody tr")
    names = rows.locator("td:nth-child(2)")
    expect(rows).to_have_count(7)
    charts = page.locator("section.charts svg")
    expect(charts).to_have_count(2)
    expect(charts.first).to_contain_text("江门市累计参保进度")
    expect(charts.last).to_contain_text("江门市各地完成率")

    # 约谈: nobody before the due date; 恩平市, last in 第4期 and not yet due in 第5期, is 预警
    assert not any(r.interview for r in now.children)
    assert [r.region.name for r in now.children if r.warning] == ["恩平市"]
    flagged = rows.filter(has=page.locator(".badge", has_text="约谈预警"))
    expect(flagged).to_have_count(1)
    expect(flagged.locator("td").nth(1)).to_have_text("恩平市")

    # whom to call: the counties that have not submitted, with their filers' names and phones
    page.get_by_role("button", name="列出未报单位及联系人").click()
    reminder = page.locator("#missing-list")
    behind = [r.region for r in now.children if r.late in ("missing", "pending")]
    expect(reminder.locator("tbody tr")).to_have_count(len(behind))
    for region in behind:
        filer = db.session.scalar(db.select(User).where(User.region_id == region.id))
        expect(reminder.locator("tr", has_text=region.name)).to_contain_text(filer.full_name)
        expect(reminder.locator("tr", has_text=region.name)).to_contain_text(filer.phone)
    expect(reminder).not_to_contain_text("蓬江区")  # it has submitted

    # 第4期, fully filed
    page.get_by_label("期次").select_option(label=fourth.label)
    page.wait_for_url(f"**/dashboard/4407?period={fourth.id}")
    expect(page.locator("#reporting-status")).to_have_text("已报 1,348/1,348")
    fourth_rows = progress(fourth, city).children
    by_rank = [r.region.name for r in sorted(fourth_rows, key=lambda r: (r.rank, r.region.code))]
    expect(names).to_have_text(by_rank)

    # sort by 完成率 from the header: htmx swaps the table in place and puts the sort in the URL
    page.evaluate("window.stillHere = true")
    header = page.locator("#ranking thead").get_by_role("link", name="完成率", exact=True)
    header.click()
    page.wait_for_url("**sort=completion&dir=desc**")
    expect(page.locator("#ranking th[aria-sort=descending]")).to_have_text("完成率 ▼")
    descending = [r.region.name for r in sorted(fourth_rows, key=lambda r: -r.completion)]
    expect(names).to_have_text(descending)
    page.locator("#ranking thead").get_by_role("link", name=re.compile("^完成率 ")).click()  # again: slowest first
    page.wait_for_url("**sort=completion&dir=asc**")
    ascending = descending[::-1]
    assert ascending[0] == "恩平市" and ascending[0] != by_rank[0]
    expect(names).to_have_text(ascending)
    assert page.evaluate("window.stillHere") is True  # swapped, not a new page
    assert f"period={fourth.id}" in page.url
    page.screenshot(path=tmp_path / "dashboard.png")  # 1366×768, the county offices' screen

    # the sorted view is a bookmark: reloading it shows the same order
    page.reload()
    expect(names).to_have_text(ascending)
    expect(page.locator("#ranking th[aria-sort=ascending]")).to_have_text("完成率 ▲")
    expect(page.get_by_label("期次")).to_have_value(str(fourth.id))

    # the export follows the order shown
    with page.expect_download() as download:
        page.get_by_role("link", name="导出排名表").click()
    assert download.value.suggested_filename == f"江门市{fourth.label}参保进度排名表.xlsx"
    sheet = load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    assert [sheet.cell(row, 3).value for row in range(4, 11)] == ascending
    assert sheet.cell(11, 3).value == "合计"

    # drill down into the last county of the table, and back up by the breadcrumb
    last = ascending[-1]
    rows.last.get_by_role("link", name=last).click()
    code = next(r.region.code for r in fourth_rows if r.region.name == last)
    page.wait_for_url(f"**/dashboard/{code}?period={fourth.id}")
    expect(page.locator("h1")).to_contain_text(last)
    expect(page.locator("#ranking h2")).to_contain_text(f"{last}各地进度排名")
    expect(rows.first).to_be_visible()  # its townships, ranked
    crumbs = page.locator("nav.breadcrumb")
    expect(crumbs.get_by_role("link")).to_have_text(["江门市"])
    crumbs.get_by_role("link", name="江门市").click()
    page.wait_for_url(f"**/dashboard/4407?period={fourth.id}")
    expect(page.locator("h1")).to_contain_text("江门市")
