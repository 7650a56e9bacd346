"""Journey: a city reviewer reads 江门市's 第5期 the day before its due date (待报, no 约谈) and after it."""
import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from reporting.filters import percent
from reporting.progress.ranking import progress
from reporting.regions.hierarchy import region_by_code

from .conftest import browser_login

pytestmark = pytest.mark.browser
PENDING = ["台山市", "鹤山市", "恩平市"]  # 第5期: 台山市 holds a draft, the other two nothing


def chart_counts(page) -> list[int]:
    titles = page.locator("section.charts svg").first.locator("rect.bar title").evaluate_all(
        "titles => titles.map(t => t.textContent)")
    return [int(re.search(r"已参保人数 ([\d,]+)", t).group(1).replace(",", "")) for t in titles]


def open_fifth(page, demo):
    fifth = demo.periods[4]
    browser_login(page, "jm_admin", "jiangmen-admin-2026")
    page.goto(f"/dashboard/4407?period={fifth.id}")
    expect(page.locator("section.charts svg")).to_have_count(2)  # loaded after the page
    return fifth


def head_figures(page) -> dict:
    kpis = page.locator("dl.kpis")
    return {name: kpis.locator("div").filter(has=page.locator("dt", has_text=re.compile(f"^{name}$")))
            .locator("dd") for name in ("完成率", "参保率")}


def test_the_day_before_the_due_date(page, demo, frozen_now):
    frozen_now(dt.datetime(2026, 11, 30, 10, 0))  # 第5期 is due 12月1日
    fifth = open_fifth(page, demo)
    result = progress(fifth, region_by_code("4407"))
    assert sorted(r.region.name for r in result.pending) == sorted(PENDING) and not result.missing

    # 待报, not 逾期: named on the board, each counted with the figures it filed for 第4期
    board = page.locator(".status-board")
    for name in PENDING:
        unit = board.locator("li", has_text=name)
        expect(unit.locator(":scope > .badge")).to_have_text("待报")  # its own; a 督办 badge may follow
        expect(unit).to_contain_text("沿用第4期")
    expect(board.get_by_text("逾期未报")).to_have_count(0)
    expect(page.locator("#reporting-status")).to_contain_text("待报")

    # no 约谈 for a county still to report: 恩平市, last in 第4期 and last with the figures it carries, is 预警
    interviews = page.locator("#interviews")
    expect(interviews).to_contain_text("连续2期排名末位的，约谈其主要负责人")
    expect(page.locator("#interviews-pending")).to_contain_text("尚未到报送截止时间")
    expect(interviews.locator("tr.interview")).to_have_count(0)
    expect(interviews.locator("tr.interview-warning")).to_have_text([re.compile("恩平市.*预警.*第4期：第7名/共7个；第5期：第7名/共7个（待报）", re.S)])
    expect(page.locator("#ranking .badge", has_text=re.compile("^约谈$"))).to_have_count(0)

    # one basis: the headline, the table's 合计 and the chart say the same
    head = result.region
    figures = head_figures(page)
    expect(figures["完成率"]).to_have_text(percent(head.completion))
    expect(figures["参保率"]).to_have_text(percent(head.rate))
    footer = page.locator("#ranking tfoot td.num")
    expect(footer.nth(2)).to_have_text(percent(head.rate))
    expect(footer.nth(3)).to_have_text(percent(head.completion))
    counts = chart_counts(page)
    assert counts == sorted(counts) and counts[-1] == head.enrolled  # never dips for the units still to file
    expect(page.locator("section.charts svg").first).to_contain_text(percent(head.completion))

    # the bars take each unit's light
    for row in result.children:
        bar = page.locator("section.charts svg").last.locator("g.unit", has_text=row.region.name).locator("rect.bar")
        expect(bar).to_have_attribute("fill", {"red": "#d2232a", "yellow": "#c98a00", "green": "#2e7d32"}[row.light])

    # the forecast column and its flag
    missed = [r.region.name for r in result.children if r.forecast.misses]
    flagged = page.locator("#ranking tbody tr").filter(has=page.locator(".badge", has_text="预计无法按期完成"))
    expect(flagged).to_have_count(len(missed))


def test_after_the_due_date(page, demo, frozen_now):
    frozen_now(dt.datetime(2026, 12, 2, 10, 0))
    fifth = open_fifth(page, demo)
    result = progress(fifth, region_by_code("4407"))
    board = page.locator(".status-board")
    for name in PENDING:
        expect(board.locator("li", has_text=name).locator(":scope > .badge")).to_have_text("逾期未报")
    expect(page.locator("#reporting-status")).to_contain_text("逾期未报")
    # 恩平市: last in 第4期, and 逾期未报 (the lowest) in 第5期
    interviews = page.locator("#interviews")
    expect(interviews.locator("tr.interview")).to_have_text(
        [re.compile("恩平市.*约谈.*第4期：第7名/共7个；第5期：第5名/共7个（逾期未报）", re.S)])
    expect(page.locator("#ranking tr", has_text="恩平市").locator(".badge", has_text=re.compile("^约谈$"))).to_have_count(1)
    # the figures are those of before the due date: nothing was filed since
    head = result.region
    expect(head_figures(page)["完成率"]).to_have_text(percent(head.completion))
    counts = chart_counts(page)
    assert counts == sorted(counts) and counts[-1] == head.enrolled
