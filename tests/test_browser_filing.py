"""Journey: a county filer types, pastes and fixes the 参保进度表 of 新会区, then submits it (on time and late)."""
import datetime as dt

import pytest
from playwright.sync_api import expect

from reporting.extensions import db
from reporting.filing.filing import import_reports
from reporting.models import Region
from reporting.regions.hierarchy import descendants_at, region_by_code

from .conftest import browser_login
from .fixtures.filing import HUICHENG, A, B, C, D, E, F, G, cell

pytestmark = pytest.mark.browser

KEYS = ("population", "should_enroll", "enrolled", "hardship_should", "hardship_enrolled",
        "students_enrolled", "newborns_enrolled", "college_enrolled")
FOOTER = {"填表人": "黄丽华", "联系电话": "13802216103", "单位负责人": "张局长"}


def fill_villages(period, skip=()):
    """Setup, not the journey: the villages of 新会区 not in `skip` get a complete draft on the server."""
    codes = db.session.scalars(descendants_at(region_by_code("440705"), "village")
                               .with_only_columns(Region.code).order_by(Region.code)).all()
    values = dict(zip(KEYS, (3000, 2600, 2000, 80, 80, 400, 20, 0)))
    import_reports(period, [(n, code, values, {}) for n, code in enumerate(codes) if code not in skip],
                   submit=False)
    db.session.commit()


def type_across(page, values):
    """Type one value per cell, Tab between them, as a clerk does."""
    for n, value in enumerate(values):
        if n:
            page.keyboard.press("Tab")
        page.keyboard.type(str(value))


def paste(page, code, key, text):
    """A paste into a cell, with the clipboard content a copy from Excel puts there."""
    page.evaluate("""([id, text]) => {
        const input = document.getElementById(id);
        input.focus();
        const data = new DataTransfer();
        data.setData("text/plain", text);
        input.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
    }""", [f"c-{code}-{key}", text])


def submit(page):
    """Fill the footer of the form and press 提交."""
    panel = page.locator("#submit-panel")
    for label, value in FOOTER.items():
        panel.get_by_label(label).fill(value)
    panel.get_by_role("button", name="提交").click()


def open_grid(page):
    """Sign in as the 新会区 filer and open 填报 from the nav."""
    browser_login(page, "xinhui")
    page.get_by_role("navigation").get_by_role("link", name="填报").click()
    page.wait_for_url("**/filing/*/440705")


def retype(page, code, key, value):
    """Select what a cell holds and type over it."""
    cell(page, code, key).click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(value))


def test_county_filer_types_pastes_fixes_and_submits(page, empty_period, tmp_path):
    fill_villages(empty_period, skip={A, B, C, D, E})  # 237 villages already came from the information system
    open_grid(page)
    assert page.url.endswith(f"/filing/{empty_period.id}/440705")  # the current period opens
    head = page.locator(".form-head")
    expect(head).to_contain_text("数据截至：2022年9月30日")
    expect(head).to_contain_text("报送截止：2022年10月8日")
    subtotal = page.locator(f"#sub-{HUICHENG} td.num")
    total = page.locator("#total-row td.num")
    expect(subtotal).to_have_text(["135,000", "117,000", "90,000", "3,600", "3,600", "18,000", "900", "76.92%", "0"])  # 参保率 before 大学生, as in the workbook
    expect(page.locator(f"#msg-{A}")).to_have_text("未填")

    # the population column first, Enter moving down a row; then across with Tab
    cell(page, A, "population").click()
    page.keyboard.type("3000")
    page.keyboard.press("Enter")
    expect(cell(page, B, "population")).to_be_focused()
    page.keyboard.type("2800")
    page.keyboard.press("Tab")
    expect(cell(page, B, "should_enroll")).to_be_focused()
    type_across(page, [2500, 2250, 60, 60, 350, 15, 3])
    # Enter in the last column goes on at the first column of the next row
    page.keyboard.press("Enter")
    expect(cell(page, C, "population")).to_be_focused()
    expect(page.locator(f"#rate-{B}")).to_have_text("90.00%")
    expect(page.locator(f"#msg-{B}")).to_have_text("草稿")
    cell(page, A, "should_enroll").click()
    type_across(page, [2600, 2000, 80, 78, 400, 20, 5])
    expect(page.locator(f"#rate-{A}")).to_have_text("76.92%")
    expect(subtotal).to_have_text(["140,800", "122,100", "94,250", "3,740", "3,738", "18,750", "935", "77.19%", "8"])
    expect(total).to_have_text(["716,800", "621,300", "478,250", "19,100", "19,098", "95,550", "4,775", "76.98%", "8"])
    expect(cell(page, A, "college_enrolled")).to_be_focused()  # no answer replaced the cell typed in
    expect(cell(page, A, "college_enrolled")).to_have_value("5")

    # three rows copied from Excel (a thousands separator, CRLF line ends) pasted into a third village
    paste(page, C, "population", "3,100\t2700\t2100\t90\t85\t420\t22\t6\r\n"
                                 "1500\t1300\t1200\t40\t40\t200\t10\t2\r\n"
                                 "2000\t1800\t1500\t50\t49\t300\t12\t4\r\n")
    expect(cell(page, C, "population")).to_have_value("3100")
    expect(cell(page, E, "college_enrolled")).to_have_value("4")
    expect(cell(page, F, "population")).to_have_value("3000")  # the last line end adds no empty row
    for code, rate in ((C, "77.78%"), (D, "92.31%"), (E, "83.33%")):
        expect(page.locator(f"#rate-{code}")).to_have_text(rate)
        expect(page.locator(f"#msg-{code}")).to_have_text("草稿")
    expect(subtotal).to_have_text(["147,400", "127,900", "99,050", "3,920", "3,912", "19,670", "979", "77.44%", "20"])
    expect(total).to_have_text(["723,400", "627,100", "483,050", "19,280", "19,272", "96,470", "4,819", "77.03%", "20"])
    expect(page.locator("#filing-status")).to_have_text("已填 242 / 242，已提交 0")
    page.screenshot(path=tmp_path / "grid.png")

    # more enrolled than should enroll is a warning; a part above its total is an error at the cell
    retype(page, F, "enrolled", 2700)
    expect(page.locator(f"#msg-{F}")).to_have_text("参保率超过100%（已参保2,700人，应参保2,600人），请核实")
    expect(page.locator(f"#rate-{F}")).to_have_text("103.85%")
    expect(cell(page, F, "enrolled")).to_have_class("warned")
    retype(page, G, "students_enrolled", 2400)
    expect(page.locator(f"#msg-{G}")).to_have_text(
        "中小学生及在园幼儿已参保人数（2,400）不能大于居民医保已参保人数（2,000）")
    expect(cell(page, G, "students_enrolled")).to_have_class("invalid")
    expect(cell(page, G, "enrolled")).not_to_have_class("invalid")

    # 提交 is refused; the summary links to the bad cell, which lands selected, ready to retype
    page.reload()  # the marks come back with the summary, not only from typing
    expect(cell(page, G, "students_enrolled")).to_have_value("2400")
    submit(page)
    summary = page.locator("#submit-panel .summary")
    expect(summary.locator("h2")).to_have_text("有 1 处错误，不能提交")
    expect(head.locator(".badge")).to_have_count(0)  # nothing was submitted
    link = summary.get_by_role("link")
    expect(link).to_have_text(["会城街道 · 浐湾社区居委会：中小学生及在园幼儿已参保人数（2,400）不能大于居民医保已参保人数（2,000）"])
    bad = cell(page, G, "students_enrolled")
    expect(bad).to_have_class("invalid")
    link.click()
    expect(bad).to_be_focused()
    expect(bad).to_be_in_viewport()
    page.keyboard.type("240")
    expect(bad).not_to_have_class("invalid")  # the row was saved and the server found it right
    expect(bad).to_have_value("240")

    # the second try lists the warning, which needs one acknowledgement
    submit(page)
    expect(summary.locator("h2")).to_have_text("请核实以下 1 条提示")
    expect(summary.get_by_role("link")).to_have_text(
        ["贤洲社区居委会：参保率超过100%（已参保2,700人，应参保2,600人），请核实"])
    expect(cell(page, F, "enrolled")).to_have_class("warned")
    page.get_by_label("以上提示已核实，确认无误").check()
    page.locator("#submit-panel").get_by_role("button", name="提交").click()

    expect(page.locator(".flash")).to_have_text("已提交新会区第1期（截至9月30日）的进度表")
    expect(head.locator(".badge")).to_have_text(["已提交"])  # on time: no 迟报
    expect(page.locator("#filing-status")).to_have_text("已填 242 / 242，已提交 242")
    expect(page.locator(f"#msg-{G}")).to_have_text("已提交")
    expect(page.locator("#submit-panel").get_by_role("button")).to_have_text("提交修改")


def test_late_submission_is_marked_late(page, empty_period, frozen_now):
    fill_villages(empty_period)
    frozen_now(dt.datetime(2022, 10, 9, 9, 0))  # the day after 10月8日
    open_grid(page)
    # the current period is now the second: the filer goes back to the first
    page.get_by_label("期次").select_option(label="第1期（截至9月30日），10月8日截止")
    page.wait_for_url(f"**/filing/{empty_period.id}/440705")
    head = page.locator(".form-head")
    expect(head.locator(".badge")).to_have_text(["逾期未报"])
    submit(page)
    expect(head.locator(".badge")).to_have_text(["已提交", "迟报"])
    expect(head).to_contain_text("2022年10月9日 09:00")
    expect(page.locator(f"#msg-{A}")).to_have_text("已提交迟报")
