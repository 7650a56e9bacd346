"""Journey: going to a unit's row (a 待办 link, a search with one match) shows the row below the grid's
sticky header, highlighted, with its first cell focused."""

import pytest
from playwright.sync_api import expect

from .conftest import browser_login, villages

pytestmark = pytest.mark.browser

XINHUI = "440705"


def assert_landed(page, code):
    row = page.locator(f"#u-{code}")
    expect(row).to_have_class("unit landed")
    geometry = page.evaluate("""(id) => {
        const row = document.getElementById(id);
        // the header cells stick, not the thead element: the lowest of them is the header's bottom
        const head = {getBoundingClientRect: () => ({bottom: Math.max(...Array.from(
            row.closest("table").querySelectorAll("thead th"), th => th.getBoundingClientRect().bottom))})};
        const wrap = row.closest(".grid-wrap").getBoundingClientRect();
        return {row: row.getBoundingClientRect().top, bottom: row.getBoundingClientRect().bottom,
                head: head.getBoundingClientRect().bottom, wrapBottom: wrap.bottom,
                focused: document.activeElement.id};
    }""", f"u-{code}")
    assert geometry["row"] >= geometry["head"] - 1, geometry  # not behind the sticky header
    assert geometry["bottom"] <= geometry["wrapBottom"], geometry  # and inside the scrolled box
    assert geometry["focused"] == f"c-{code}-population"


def test_a_link_to_a_row_lands_it_below_the_header(page, xinhui_period):
    unit = villages(XINHUI)[120]
    browser_login(page, "xinhui")
    page.goto(f"/filing/{xinhui_period.id}/{XINHUI}#u-{unit}")
    assert_landed(page, unit)


def test_a_search_with_one_match_goes_straight_to_the_row(page, xinhui_period):
    unit = villages(XINHUI)[150]
    browser_login(page, "xinhui")
    box = page.get_by_role("search").get_by_label("查找单位")
    box.fill(unit)
    box.press("Enter")
    page.wait_for_url(f"**/filing/{xinhui_period.id}/{XINHUI}#u-{unit}")
    assert_landed(page, unit)
