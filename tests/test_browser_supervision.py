"""Journey of 督办闭环 on the Jiangmen demo: from the 约谈名单 the city records the 约谈 of 恩平市, the
county answers with its 整改报告, the city closes it; the next 通报 names the overdue order."""
import re

import pytest
from playwright.sync_api import expect

from .conftest import browser_login

pytestmark = pytest.mark.browser


def sign_out(page):
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login**")


def test_interview_answer_close_and_the_overdue_order_in_the_next_circular(page, demo):
    second = demo.periods[1]  # 恩平市 last in 第1期 and 第2期: on the 约谈名单
    browser_login(page, "jm_admin", "jiangmen-admin-2026")
    page.goto(f"/dashboard/4407?period={second.id}")
    listed = page.locator("#interviews tr", has_text="恩平市")
    expect(listed).to_contain_text("约谈")
    listed.get_by_role("link", name="记录约谈").click()

    # prefilled with the rule it fell under and its ranks
    matter = page.get_by_label("督办事项（存在的问题）")
    expect(matter).to_have_value(re.compile(r"^连续2期排名末位（第1期第7名/共7个；第2期第7名/共7个）"))
    expect(page.get_by_label("约谈对象")).to_have_value("主要负责人")
    page.get_by_label("约谈地点").fill("市医保局三楼会议室")
    page.get_by_label("约谈人").fill("市医保局分管副局长")
    page.get_by_label("整改要求 / 约谈内容").fill("一周内报送整改报告，下期完成率高于序时进度")
    page.get_by_label("整改时限").fill("2026-12-04")
    page.get_by_role("button", name="建立督办事项").click()
    expect(page.locator(".flash")).to_contain_text("已建立督办〔2026〕3号（约谈：恩平市）")
    expect(page.locator("#item")).to_contain_text("还有7天")
    expect(page.locator("#figures")).to_contain_text("35.48%")  # its completion in 第2期, when interviewed
    sign_out(page)

    # the county sees it on its 待办 with the countdown, and answers
    browser_login(page, "filer_440785", "jiangmen-filer-2026")
    todo = page.locator("#todo")
    expect(todo).to_contain_text("督办〔2026〕3号（约谈）：恩平市须于12月4日前报送整改报告（还有7天）")
    todo.get_by_role("link", name=re.compile("督办〔2026〕3号")).click()
    page.get_by_label("整改情况").fill("已召开全市动员会，逐村包片督导")
    page.get_by_label("承诺完成时间或目标").fill("12月15日前完成率达到80%")
    page.get_by_role("button", name="报送整改报告").click()
    expect(page.locator(".flash")).to_contain_text("已报送督办〔2026〕3号的整改报告")
    expect(page.locator("#responses")).to_contain_text("逐村包片督导")
    expect(page.locator("#issuer-actions")).to_have_count(0)  # the county cannot close its own item
    sign_out(page)

    # the city reads it on its 待办 and closes it
    browser_login(page, "jm_admin", "jiangmen-admin-2026")
    page.locator("#todo").get_by_role("link", name=re.compile("督办〔2026〕3号：恩平市已报送整改报告")).click()
    page.get_by_role("button", name="销号").click()
    expect(page.locator(".flash")).to_have_text("督办〔2026〕3号已销号")
    expect(page.locator("#item")).to_contain_text("已销号")

    # the board still counts 鹤山市's overdue order, and the next 通报 names it
    page.goto("/dashboard/4407")
    expect(page.locator(".status-board")).to_contain_text("逾期1")
    page.get_by_role("navigation").get_by_role("link", name="通报").click()
    draft = page.locator("form.inline-form")
    draft.get_by_label("期次").select_option(label=demo.periods[4].label)
    draft.get_by_role("button", name="按当前数据起草通报").click()
    page.wait_for_url("**/circulars/*/edit")
    body = page.get_by_label("正文").input_value()
    problems = body.split("存在问题")[1]
    assert "第3期督办的鹤山市（督办〔2026〕2号）逾期未报送整改情况。" in problems
    assert "第2期约谈的恩平市已提交整改报告，完成率由35.48%" in problems
