"""Journeys: a county filer's afternoon on a new period (carried values, a refusal that points at the
problem, the printed 进度表, finding a village), and reading the site on a phone."""
import datetime as dt
import re
import subprocess

import pytest
from playwright.sync_api import expect

from reporting.campaigns.campaigns import create_campaign
from reporting.extensions import db
from reporting.filing.filing import import_reports
from reporting.models import Region
from reporting.regions.hierarchy import descendants_at, region_by_code

from .conftest import browser_login, make_user

pytestmark = pytest.mark.browser

KEYS = ("population", "should_enroll", "enrolled", "hardship_should", "hardship_enrolled",
        "students_enrolled", "newborns_enrolled", "college_enrolled")
LAST_PERIOD = dict(zip(KEYS, (3000, 2600, 2000, 80, 70, 400, 20, 0)))
FOOTER = {"填表人": "黄丽华", "联系电话": "13802216103", "单位负责人": "张局长"}
HUICHENG = "440705001"  # 会城街道, the first township of 新会区
A, B, C = (f"{HUICHENG}{n:03d}" for n in range(1, 4))


@pytest.fixture
def second_period(jiangmen, frozen_now):
    """新会区 submitted 第1期 for all 242 villages; in 第2期 all but three are already drafts."""
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), extend_to=dt.date(2023, 2, 28),
                                  first_due=dt.date(2022, 10, 1))
    db.session.commit()
    make_user("xinhui", "county_filer", "440705")
    codes = db.session.scalars(descendants_at(region_by_code("440705"), "village")
                               .with_only_columns(Region.code).order_by(Region.code)).all()
    frozen_now(dt.datetime(2022, 10, 6, 10, 0))
    import_reports(campaign.periods[0], [(n, code, LAST_PERIOD, {}) for n, code in enumerate(codes)], submit=True)
    now = {**LAST_PERIOD, "enrolled": 2100, "hardship_enrolled": 75, "students_enrolled": 420}
    import_reports(campaign.periods[1], [(n, code, now, {}) for n, code in enumerate(codes)
                                         if code not in (A, B, C)], submit=False)
    db.session.commit()
    frozen_now(dt.datetime(2022, 10, 12, 10, 0))
    return campaign.periods[1], codes


def cell(page, code, key):
    return page.locator(f"#c-{code}-{key}")


def settle(page):
    """Wait until the rows typed in have been saved (each saves 400 ms after its last keystroke)."""
    page.wait_for_timeout(450)
    page.wait_for_function("() => !document.querySelector('.htmx-request')")


def type_counts(page, values):
    """Type the counts across a row, Tab past the carried (light) cells, which need no typing."""
    for n, value in enumerate(values):
        if n:
            page.keyboard.press("Tab")
            while page.evaluate("document.activeElement.classList.contains('carried')"):
                page.keyboard.press("Tab")
        page.keyboard.type(str(value))


def test_a_filer_types_the_counts_fixes_prints_and_finds_a_village(page, second_period, tmp_path):
    period, codes = second_period
    browser_login(page, "xinhui")
    page.get_by_role("navigation").get_by_role("link", name="填报").click()
    page.wait_for_url(f"**/filing/{period.id}/440705")

    # the new period opens with last period's 常住人口, 应参保 and 困难群众应参保, light and editable
    for key, value in (("population", "3000"), ("should_enroll", "2600"), ("hardship_should", "80")):
        expect(cell(page, A, key)).to_have_value(value)
        expect(cell(page, A, key)).to_have_class("carried")
        expect(cell(page, A, key)).to_have_attribute("title", "沿用上期：" + f"{int(value):,}")
    expect(cell(page, A, "enrolled")).to_have_value("")
    expect(cell(page, A, "enrolled")).not_to_have_class("carried")

    # only the counts are typed: Tab across, and Enter at the row's end goes on at 已参保 one row down
    cell(page, A, "enrolled").click()
    type_counts(page, (2100, 75, 420, 20, 0))
    expect(cell(page, A, "college_enrolled")).to_be_focused()
    page.keyboard.press("Enter")
    expect(cell(page, B, "enrolled")).to_be_focused()
    type_counts(page, (2100, 75, 4200, 20, 0))  # 中小学生 4200: more than 已参保
    expect(page.locator(f"#rate-{A}")).to_have_text("80.77%")
    expect(page.locator(f"#msg-{A}")).to_have_text("草稿")  # no 与上期不同: the carried values are the last ones
    expect(page.locator(f"#msg-{B}")).to_contain_text("不能大于居民医保已参保人数")
    expect(cell(page, A, "population")).to_have_class("carried")

    # 提交 is refused: the real error first, named with its township; then one line for the empty unit
    panel = page.locator("#submit-panel")
    settle(page)
    for label, value in FOOTER.items():
        panel.get_by_label(label).fill(value)
    panel.get_by_role("button", name="提交").click()
    summary = panel.locator(".summary")
    expect(summary.locator("h2")).to_have_text("有 1 处错误，尚有1个单位未填写，不能提交")
    items = summary.locator("li")
    expect(items.first).to_have_text(
        "会城街道 · 菱东社区居委会：中小学生及在园幼儿已参保人数（4,200）不能大于居民医保已参保人数（2,100）")
    expect(items.nth(1)).to_contain_text("尚有1个单位未填写")
    expect(items).to_have_count(2)

    # the filter shows only the empty unit; its counts are typed there
    items.nth(1).get_by_role("link", name="只看未填写的单位").click()
    page.wait_for_url("**?only=missing")
    expect(page.locator("tr.unit")).to_have_count(1)
    cell(page, C, "enrolled").click()
    page.keyboard.type("2100")
    expect(page.locator(f"#msg-{C}")).to_have_text("草稿")
    page.get_by_role("link", name="显示全部").click()
    page.wait_for_url(f"**/filing/{period.id}/440705")

    # fix the error through its link: the cell lands selected, and the right number goes over it
    for label, value in FOOTER.items():
        panel.get_by_label(label).fill(value)
    panel.get_by_role("button", name="提交").click()
    expect(summary.locator("h2")).to_have_text("有 5 处错误，不能提交")  # and C's four other counts are empty
    summary.get_by_role("link").first.click()
    expect(cell(page, B, "students_enrolled")).to_be_focused()
    page.keyboard.type("420")
    expect(page.locator(f"#msg-{B}")).to_have_text("草稿")
    cell(page, C, "hardship_enrolled").click()
    type_counts(page, (75, 420, 20, 0))
    expect(page.locator(f"#msg-{C}")).to_have_text("草稿")
    settle(page)
    for label, value in FOOTER.items():
        panel.get_by_label(label).fill(value)
    panel.get_by_role("button", name="提交").click()
    expect(page.locator(".flash")).to_have_text("已提交新会区第2期（截至10月14日）的进度表")

    # print: the whole table on A4 landscape, header on every page, township subtotals, total, footer
    expect(page.get_by_role("button", name="打印")).to_be_visible()
    pdf = tmp_path / "进度表.pdf"
    page.emulate_media(media="print")
    page.pdf(path=str(pdf), prefer_css_page_size=True)
    page.emulate_media(media="screen")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts \(A4\)", info).groups())
    assert width > height  # A4 landscape
    pages = text.count("\f")
    missing = [code for code in codes if code not in text]
    assert missing == [], f"{len(missing)} villages are not on paper, e.g. {missing[:3]}"
    assert pages > 3 and text.count("单位代码") >= pages  # the header repeats on each page
    # every line has its rate: 242 villages, the subtotals of 16 townships, one total
    assert text.count("80.77%") == 242 + 16 + 1 and text.count("合计") == 1
    assert "508,200" in text  # 合计 of 已参保: 242 × 2,100
    for line in ("填表人：黄丽华", "联系电话：13802216103", "单位负责人：张局长", "填表时间：2022年10月12日"):
        assert line in text.replace(" ", "")
    assert "状态" not in text and "草稿" not in text and "打印" not in text
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "print")],
                   check=True)

    # find a village from the top bar and land on its row
    search = page.get_by_role("searchbox", name="查找单位")
    search.fill("浐湾")
    result = page.locator("#search-results").get_by_role("link", name="浐湾社区居委会")
    expect(result).to_be_visible()
    expect(page.locator("#search-results")).to_contain_text("会城街道")
    page.screenshot(path=tmp_path / "search.png")
    result.click()
    page.wait_for_url(f"**/filing/{period.id}/440705#u-{HUICHENG}007")
    expect(page.locator(f"#u-{HUICHENG}007")).to_be_in_viewport()
    search = page.get_by_role("searchbox", name="查找单位")
    search.fill("440705001")
    expect(page.locator("#search-results").get_by_role("link").first).to_have_text("会城街道")


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844},
                                  device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []


def page_width(page):
    return page.evaluate("document.documentElement.scrollWidth")


def test_a_township_reads_the_dashboard_and_the_home_page_on_a_phone(phone, demo, tmp_path):
    page = phone
    browser_login(page, "jm_admin", "jiangmen-admin-2026")
    assert page_width(page) <= 390
    # the menu is folded behind one button
    nav = page.get_by_role("navigation").first
    expect(nav).to_be_hidden()
    page.locator(".menu-button").click()
    expect(nav.get_by_role("link", name="督导")).to_be_visible()
    assert page_width(page) <= 390
    page.screenshot(path=tmp_path / "home.png", full_page=True)
    nav.get_by_role("link", name="督导").click()
    page.wait_for_url("**/dashboard/4407**")
    expect(page.locator(".kpis")).to_contain_text("完成率")
    expect(page.locator("#charts svg").first).to_be_visible()
    assert page_width(page) <= 390
    # the headline reads without sideways scrolling: every figure inside the screen
    for box in page.locator(".kpis dd").all():
        shape = box.bounding_box()
        assert shape["x"] >= 0 and shape["x"] + shape["width"] <= 390
    # the status board wraps; the ranking scrolls inside its card with the unit column fixed
    ranking = page.locator("#ranking table")
    page.locator("#ranking h2").scroll_into_view_if_needed()  # below the 约谈名单 and 部门 sections
    assert ranking.evaluate("table => table.scrollWidth > table.clientWidth")
    name = ranking.locator("tbody tr").first.locator("td").nth(1)
    before = name.bounding_box()["x"]
    ranking.evaluate("table => { table.scrollLeft = 400; }")
    after = name.bounding_box()["x"]
    assert 0 <= after <= before and after < 60, (before, after)
    expect(page.locator("#ranking h2")).to_be_in_viewport()  # the heading stays; only the table moved
    assert page_width(page) <= 390
    page.screenshot(path=tmp_path / "dashboard.png", full_page=True)
    # a county's page, as a 催报 link opens it
    page.goto("/dashboard/440785")
    expect(page.locator("h1")).to_contain_text("恩平市")
    assert page_width(page) <= 390
    page.goto("/")
    assert page_width(page) <= 390
    # a county filer's grid: it scrolls inside its frame, the unit's name stays at the left edge
    page.locator(".menu-button").click()
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login**")
    browser_login(page, "filer_440705", "jiangmen-filer-2026")
    page.goto("/filing/")
    page.wait_for_url("**/filing/*/440705")
    assert page_width(page) <= 390
    frame = page.locator("#grid")
    name = page.locator("table.filing tbody th.name").first
    frame.evaluate("wrap => { wrap.scrollLeft = 300; }")
    assert name.bounding_box()["x"] < 40
    expect(page.locator("table.filing td.code").first).to_be_hidden()
    page.screenshot(path=tmp_path / "grid.png")
