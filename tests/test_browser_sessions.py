"""Journey: a filer's login lapses mid-typing; the grid says which rows are not saved, and after
logging in again it puts them back and saves them."""
import datetime as dt

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from reporting.extensions import db
from reporting.models import Report
from reporting.regions.hierarchy import region_by_code

from .conftest import browser_login
from .fixtures.filing import A, B, cell

pytestmark = pytest.mark.browser

#: a row saves 400 ms after the last keystroke; on a busy machine the answer takes a few seconds more
SAVED_MS = 15_000


def enrolled(code):
    db.session.expire_all()
    report = db.session.scalar(select(Report).where(Report.region_id == region_by_code(code).id))
    return report.values(report.period.campaign.indicators)["enrolled"] if report else None


def test_typing_after_the_login_lapsed_is_kept_and_saved_after_login(page, empty_period, frozen_now):
    browser_login(page, "xinhui")
    page.goto(f"/filing/{empty_period.id}/440705")
    cell(page, A, "enrolled").fill("1500")
    expect(page.locator(f"#msg-{A}")).to_have_text("草稿", timeout=SAVED_MS)
    assert enrolled(A) == 1500

    # the filer leaves the screen for an hour: the login lapses, and the next rows are refused
    frozen_now(dt.datetime(2022, 10, 5, 11, 30))
    cell(page, A, "enrolled").fill("1600")
    cell(page, B, "enrolled").fill("1700")
    banner = page.locator("#session-banner")
    expect(banner).to_contain_text("登录已失效，以下2行的修改未保存", timeout=SAVED_MS)
    names = [page.locator(f"#u-{code} .name").inner_text() for code in (A, B)]
    expect(banner).to_contain_text("、".join(names))
    expect(page.locator(f"#msg-{B}")).to_have_text("未保存")
    assert enrolled(A) == 1500 and enrolled(B) is None  # nothing changed in the database

    # logging in again comes back to the grid, with the typed values back in their rows and saved
    banner.get_by_role("link", name="重新登录").click()
    page.wait_for_url("**/login?next=*")
    page.fill("input[name=username]", "xinhui")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"**/filing/{empty_period.id}/440705")
    expect(banner).to_have_text("登录失效前未保存的修改已全部保存。", timeout=SAVED_MS)
    expect(cell(page, A, "enrolled")).to_have_value("1600")
    expect(cell(page, B, "enrolled")).to_have_value("1700")
    expect(page.locator(f"#msg-{B}")).to_have_text("草稿")
    assert enrolled(A) == 1600 and enrolled(B) == 1700
