"""Journey: the city admin drafts the 通报 of 第4期 from the data, edits it with a live preview, issues it."""
import re
import subprocess

import pytest
from playwright.sync_api import expect

from .conftest import browser_login

pytestmark = pytest.mark.browser

#: rendering a 江门市 circular (charts, tables, CJK fonts) takes a few seconds here
RENDER_MS = 60_000


def test_city_admin_drafts_edits_and_issues_a_circular(page, demo, tmp_path):
    fourth = demo.periods[3]
    browser_login(page, "jm_admin", "jiangmen-admin-2026")
    page.get_by_role("navigation").get_by_role("link", name="通报").click()
    page.wait_for_url("**/circulars/")
    expect(page.locator("#archive tbody")).to_have_text("没有符合条件的通报")

    # a draft for 江门市 and 第4期, written from the numbers
    draft = page.locator("form.inline-form")
    expect(draft.get_by_label("区划代码")).to_have_value("4407")
    draft.get_by_label("期次").select_option(label=fourth.label)
    draft.get_by_role("button", name="按当前数据起草通报").click()
    page.wait_for_url("**/circulars/*/edit")
    body = page.get_by_label("正文")
    expect(body).to_have_value(re.compile(r"^现将截至11月14日.*\n一、总体进展\n"))
    text = body.input_value()
    assert "截至11月14日，全市已参保缴费" in text and "进度较快" in text
    preview = page.frame_locator("#preview iframe")
    expect(preview.locator("h1.title")).to_contain_text("参保缴费")
    expect(preview.locator("body")).to_contain_text("进度较快")

    # one character retyped: the edit saves itself after a pause, and the preview reloads with it
    at = text.index("进度较快") + 2
    body.evaluate("(area, at) => { area.focus(); area.setSelectionRange(at, at + 1); }", at)
    page.keyboard.type("很")
    expect(body).to_have_value(text.replace("进度较快", "进度很快"))
    expect(preview.locator("body")).to_contain_text("进度很快", timeout=15_000)
    expect(preview.locator("body")).not_to_contain_text("进度较快")
    page.screenshot(path=tmp_path / "circular.png")  # 1366×768, the county offices' screen

    # 印发 asks first; once issued the page of the circular shows its number
    asked = []

    def accept(dialog):
        asked.append(dialog.message)
        dialog.accept()
    page.once("dialog", accept)
    page.get_by_role("button", name="印发").click()
    page.wait_for_url(re.compile(r"/circulars/\d+$"), timeout=RENDER_MS)
    assert asked == ["印发后正文和数据将冻结，不能再修改。确定印发？"]
    facts = page.locator("dl.facts")
    expect(facts.locator("dt:text-is('发文字号') + dd")).to_have_text("江医保〔2026〕1号")
    expect(facts).to_contain_text("已印发")
    expect(page.locator(".flash")).to_have_text("已印发 江医保〔2026〕1号（第1期）")

    # the PDF as issued carries the edit and the number
    with page.expect_download() as download:
        page.get_by_role("link", name="下载PDF").click()
    assert download.value.suggested_filename == "江医保〔2026〕1号.pdf"
    data = download.value.path().read_bytes()
    assert data.startswith(b"%PDF")
    pdf = tmp_path / "circular.pdf"
    pdf.write_bytes(data)
    words = subprocess.run(["/usr/bin/pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                           text=True, check=True).stdout
    words = "".join(words.split())  # a sentence may wrap at the end of a line
    assert "进度很快" in words and "江医保〔2026〕1号" in words

    # the archive lists it as issued
    page.get_by_role("navigation").get_by_role("link", name="通报").click()
    page.wait_for_url("**/circulars/")
    row = page.locator("#archive tbody tr", has_text="江医保〔2026〕1号")
    expect(row).to_have_count(1)
    expect(row.locator(".badge")).to_have_text("已印发")
    expect(row).to_contain_text(fourth.label)
