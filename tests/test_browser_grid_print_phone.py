"""Journeys: the printed grid (thousands separators on every row, page numbers) and the grid on a
390 px phone (column headers stay above a tapped cell; carried italic digits are not clipped)."""
import datetime as dt
import subprocess

import pytest
from playwright.sync_api import expect

from .conftest import browser_login, villages

pytestmark = pytest.mark.browser

XINHUI = "440705"


def test_the_printed_grid_has_separators_and_page_numbers(page, xinhui_period, tmp_path):
    unit = villages(XINHUI)[0]
    browser_login(page, "xinhui")
    page.goto(f"/filing/{xinhui_period.id}/{XINHUI}")
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    page.emulate_media(media="print")
    cell = page.locator(f"#c-{unit}-population").locator("xpath=..")
    expect(cell).to_have_text("3,000")  # as the subtotal above it prints 1,234,000
    expect(page.locator(f"#c-{unit}-population")).to_be_hidden()
    pdf = tmp_path / "grid.pdf"
    page.pdf(path=str(pdf), prefer_css_page_size=True)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    pages = text.count("\f")
    assert "3,000" in text and "第 1 页，共" in text and f"第 {pages} 页，共 {pages} 页" in text
    page.evaluate("window.dispatchEvent(new Event('afterprint'))")
    page.emulate_media(media="screen")
    expect(page.locator(f"#c-{unit}-population")).to_be_visible()


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844},
                                  device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN")
    yield context.new_page()
    context.close()


def test_on_a_phone_the_column_headers_stay_above_a_tapped_cell(phone, xinhui_period):
    page = phone
    unit = villages(XINHUI)[60]
    browser_login(page, "xinhui")
    page.goto(f"/filing/{xinhui_period.id}/{XINHUI}")
    cell = page.locator(f"#c-{unit}-enrolled")
    cell.scroll_into_view_if_needed()
    cell.tap()
    seen = page.evaluate("""(id) => {
        const cell = document.getElementById(id).getBoundingClientRect();
        const cells = Array.from(document.querySelectorAll("#filing-grid thead th"), th => th.getBoundingClientRect());
        const head = {top: Math.min(...cells.map(r => r.top)), bottom: Math.max(...cells.map(r => r.bottom))};
        return {cellTop: cell.top, headTop: head.top, headBottom: head.bottom, height: window.innerHeight};
    }""", f"c-{unit}-enrolled")
    # the header is on screen, above the cell, not scrolled away with the first rows
    assert 0 <= seen["headTop"] < seen["height"] and seen["headBottom"] <= seen["cellTop"] + 1, seen


def test_carried_italic_digits_have_room_at_the_right_edge(page, xinhui_period, frozen_now):
    second = xinhui_period.campaign.periods[1]
    frozen_now(dt.datetime(2022, 10, 12, 9, 0))
    unit = villages(XINHUI)[0]
    browser_login(page, "xinhui")
    page.goto(f"/filing/{second.id}/{XINHUI}")
    carried = page.locator(f"#c-{unit}-population")
    expect(carried).to_have_class("carried")
    fits = carried.evaluate("""(input) => {
        const style = getComputedStyle(input), canvas = document.createElement("canvas").getContext("2d");
        canvas.font = style.font;
        const ink = canvas.measureText(input.value);
        // the italic glyphs' right overhang stays inside the padding box
        return {overhang: ink.actualBoundingBoxRight - ink.width, padding: parseFloat(style.paddingRight)};
    }""")
    assert fits["padding"] >= fits["overhang"] + 4, fits
