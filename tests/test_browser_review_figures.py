"""Journey: a city reviewer reads each unit's figures and warnings, filters, and approves a county's
units only after a confirmation that names how many."""
import pytest
from playwright.sync_api import expect

from reporting.extensions import db
from reporting.filing import reviewed
from reporting.models import Report

from .conftest import browser_login
from .fixtures.review import XINHUI

pytestmark = pytest.mark.browser


def approved(period):
    db.session.expire_all()
    return sum(1 for r in db.session.scalars(db.select(Report).where(Report.period_id == period.id))
               if reviewed.status(r) == "approved")


def test_the_reviewer_sees_figures_filters_and_confirms(page, second_period_filed):
    second, units = second_period_filed
    browser_login(page, "admin")
    page.goto(f"/review/{XINHUI}?period={second.id}")
    fell = page.locator(f"#r-{units[0]}")
    expect(fell).to_contain_text("1,900")
    expect(fell).to_contain_text("已参保人数比上期减少100人")
    page.get_by_role("link", name="只看有提示的").click()
    expect(page.locator("table.review-units tbody tr")).to_have_count(1)
    page.get_by_role("link", name="全部", exact=True).click()

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name=f"新会区全部审核通过（{len(units)}个）").click()
    page.wait_for_timeout(300)
    assert asked and f"{len(units)}个待审核单位" in asked[0]
    assert approved(second) == 0  # cancelled: nothing approved

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"新会区全部审核通过（{len(units)}个）").click()
    expect(fell).to_contain_text("已审核")
    assert approved(second) == len(units)
