"""Journey: a county filer signs in, sees only their county, and drills down to a village."""
import pytest

from .conftest import browser_login, make_user

pytestmark = pytest.mark.browser


def test_county_filer_drills_down_to_a_village(page, jiangmen):
    make_user("xinhui", "county_filer", "440705")
    browser_login(page, "xinhui")
    assert "新会区" in page.inner_text("main")
    page.click("text=行政区划")
    page.wait_for_url("**/regions/440705")
    tree = page.locator("ul.tree").first
    assert "会城街道" in tree.inner_text()
    assert "蓬江区" not in page.inner_text("body")  # another county's name never appears
    # expand a township in place (lazy htmx load), then open one of its villages
    page.click("button[aria-label='展开会城街道']")
    village = page.locator("#sub-440705001 li a").first
    village.wait_for()
    name = village.inner_text()
    village.click()
    page.wait_for_url("**/regions/440705001*")
    assert name in page.inner_text("h1")
    crumbs = page.locator("nav.breadcrumb").inner_text()
    assert "新会区" in crumbs and "会城街道" in crumbs and "江门市" not in crumbs
    # the breadcrumb leads back up
    page.click("nav.breadcrumb >> text=新会区")
    page.wait_for_url("**/regions/440705")
    # another county by URL is refused
    response = page.goto("/regions/440703")
    assert response.status == 403
