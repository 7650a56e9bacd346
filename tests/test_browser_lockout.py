"""Journeys: a filer types a wrong password five times and is told the account is locked; a security
admin unlocks it and the login works. A user an admin created changes the password at first login."""
import datetime as dt

import pytest
from playwright.sync_api import expect

from .conftest import browser_login, make_user

pytestmark = pytest.mark.browser


def sign_in(page, username: str, password: str):
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_five_wrong_passwords_lock_until_the_security_admin_unlocks(app, page, browser, live_server, jiangmen,
                                                                     frozen_now):
    frozen_now(dt.datetime(2026, 11, 16, 9, 0))
    app.config["SEPARATION_OF_DUTIES"] = True
    make_user("xinhui", "county_filer", "440705")
    make_user("security", "security_admin", "4407")
    for n in range(4):
        sign_in(page, "xinhui", "Wrong-password-1")
        expect(page.locator(".error")).to_contain_text("用户名或密码错误")
    sign_in(page, "xinhui", "Wrong-password-1")
    expect(page.locator(".error")).to_contain_text("该账号因连续5次密码错误已被锁定，请于09:15后再试")
    sign_in(page, "xinhui", "correct-horse-battery")
    expect(page.locator(".error")).to_contain_text("已被锁定")
    assert page.url.endswith("/login")

    # the security admin, in another browser, finds the account locked and unlocks it
    context = browser.new_context(base_url=live_server, viewport={"width": 1366, "height": 768}, locale="zh-CN")
    admin = context.new_page()
    try:
        browser_login(admin, "security")
        admin.click("text=用户管理")
        row = admin.locator("tr", has_text="xinhui")
        expect(row).to_contain_text("已锁定")
        row.get_by_role("link", name="xinhui").click()
        admin.get_by_role("button", name="解锁").click()
        expect(admin.locator(".flash")).to_contain_text("已解锁用户 xinhui")
    finally:
        context.close()

    browser_login(page, "xinhui")
    expect(page.locator("h1")).to_contain_text("新会区")


def test_an_account_an_admin_created_changes_its_password_at_first_login(page, jiangmen):
    make_user("admin", "city_admin", "4407")
    browser_login(page, "admin")
    page.click("text=用户管理")
    page.fill("input[name=username]", "kaiping")
    page.select_option("select[name=role]", "county_filer")
    page.fill("input[name=region]", "440783")
    page.fill("input[name=password]", "Guanwei-2026")
    page.click("text=建立")
    expect(page.locator(".flash")).to_contain_text("已建立用户 kaiping")
    page.click("button:has-text('退出')")

    sign_in(page, "kaiping", "Guanwei-2026")
    page.wait_for_url("**/account/password")
    expect(page.locator(".flash")).to_contain_text("您的密码由管理员设置，请先修改密码")
    page.goto("/dashboard/440783")  # any page leads back here until it is done
    page.wait_for_url("**/account/password")
    page.fill("input[name=current]", "Guanwei-2026")
    page.fill("input[name=password]", "kaiping")
    page.fill("input[name=confirm]", "kaiping")
    page.click("button:has-text('修改')")
    expect(page.locator(".error")).to_contain_text("密码至少8个字符")
    page.fill("input[name=current]", "Guanwei-2026")
    page.fill("input[name=password]", "Xianju-开平-2027")
    page.fill("input[name=confirm]", "Xianju-开平-2027")
    page.click("button:has-text('修改')")
    page.wait_for_url("**/login")
    sign_in(page, "kaiping", "Xianju-开平-2027")
    page.wait_for_url("**/")
    expect(page.locator("h1")).to_contain_text("开平市")
