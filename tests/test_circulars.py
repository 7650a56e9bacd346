"""通报: the draft against the numbers, editing, issuing (frozen), numbering, the PDF and the archive."""
import subprocess

import pymupdf
import pytest
from sqlalchemy import inspect, select

from reporting.circulars import circulars
from reporting.circulars.circulars import draft_body, issue, new_draft, parse_body
from reporting.circulars.reading import addressed
from reporting.extensions import db
from reporting.filing.filing import import_reports
from reporting.models import Circular
from reporting.progress.ranking import progress
from reporting.regions.hierarchy import children

from .conftest import make_user
from .fixtures.circulars import VALUES


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "c.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_draft_text_follows_the_numbers(suzhou):
    campaign, city = suzhou
    result = progress(campaign.periods[1], city)
    body = draft_body(result)
    enrolled = result.region.enrolled
    assert f"截至10月14日，全市已参保缴费{enrolled:,}人" in body
    assert "居民医保参保率为" in body and "序时进度" in body
    assert "灵璧县" in body and "进度滞后" in body  # 朱集镇 at 10% pulls 灵璧县 below the calendar
    sections = parse_body(body)
    assert [s.heading for s in sections] == ["", "一、总体进展", "二、各地进展", "三、存在问题", "四、下一步工作要求"]
    assert sections[4].paragraphs[0].heading == "（一）压实工作责任。"


def test_issue_freezes_text_numbers_and_pdf(suzhou, tmp_path, frozen_now):
    campaign, city = suzhou
    draft = new_draft(campaign.periods[1], city)
    issue(draft, None)
    db.session.commit()
    assert (draft.status, draft.issue_no, draft.doc_number) == ("issued", 1, "宿医保〔2022〕1号")
    stored = draft.pdf
    before = draft.snapshot["region"]["totals"]["enrolled"]
    text = pdf_text(stored, tmp_path)
    as_of = campaign.periods[1].as_of
    assert "宿医保〔2022〕1号" in text and "埇桥区" in text
    assert f"（截至{as_of.year}年{as_of.month}月{as_of.day}日）" in text and "第1期" not in text
    assert f"{before:,}" in text
    # a later correction (once the reviewer reopens the unit the issue locked) changes the live
    # numbers but not the issued circular
    township = children(children(city)[0])[0]
    from reporting.review.review import act
    act(campaign.periods[1], township, "return", make_user("reviewer", "city_admin", "3413"), "请更正")
    import_reports(campaign.periods[1], [(1, township.code, {**VALUES, "enrolled": 1999}, {})],
                   submit=True, reason="更正")
    db.session.commit()
    db.session.expire_all()
    again = db.session.get(Circular, draft.id)
    assert again.pdf == stored and again.snapshot["region"]["totals"]["enrolled"] == before
    assert progress(campaign.periods[1], city).region.enrolled != before
    with pytest.raises(ValueError, match="已印发"):
        issue(again, None)
    # the next circular takes the next numbers
    second = new_draft(campaign.periods[1], city)
    issue(second, None)
    assert (second.issue_no, second.doc_seq) == (2, 2)


def test_every_print_of_a_circular_past_its_pages_leaves_the_charts_out(client, auth, suzhou, monkeypatch):
    """宿州市's circular takes 8 pages with its charts and 6 without: held to 6 pages, the draft's print
    view, the draft's PDF and the issued circular (its HTML and PDF) all hold the two tables alone."""
    monkeypatch.setattr(circulars, "MAX_PAGES", 6)
    campaign, city = suzhou
    make_user("admin", "city_admin", "3413")
    draft = new_draft(campaign.periods[1], city)
    db.session.commit()
    auth.login("admin")
    printable = client.get(f"/circulars/{draft.id}/print").get_data(as_text=True)
    assert "<svg" not in printable and "附件2" in printable and "附件3" not in printable
    assert "累计参保进度" not in printable and 'href="/static/circular.css' in printable
    drafted = client.get(f"/circulars/{draft.id}.pdf")
    assert drafted.status_code == 200 and page_count(drafted.data) == 6
    issue(draft, None)
    db.session.commit()
    assert "<svg" not in draft.html and "附件3" not in draft.html and page_count(draft.pdf) == 6
    assert client.get(f"/circulars/{draft.id}/print").get_data(as_text=True).count("<svg") == 0


def page_count(data: bytes) -> int:
    with pymupdf.open(stream=data, filetype="pdf") as document:
        return document.page_count


def test_lists_of_circulars_leave_their_bodies_and_numbers_unread(client, auth, suzhou):
    """A unit's home page and the archive list every 通报 addressed to it: their titles, not their
    text and frozen numbers (a province's snapshot is some 15 KB of JSON), which the page reads alone."""
    campaign, city = suzhou
    issue(new_draft(campaign.periods[1], city), None)
    db.session.commit()
    filer = make_user("lingbi", "county_filer", "341323")
    kind, filer_id = type(filer), filer.id
    db.session.expunge_all()
    (listed,) = addressed(db.session.get(kind, filer_id))
    assert {"body", "snapshot"} <= inspect(listed).unloaded
    auth.login("lingbi")
    home, archive = client.get("/").get_data(as_text=True), client.get("/circulars/").get_data(as_text=True)
    assert "宿医保〔2022〕1号" in home and "宿医保〔2022〕1号" in archive
    shown = client.get(f"/circulars/{listed.id}").get_data(as_text=True)
    assert "宿医保〔2022〕1号" in shown and "灵璧县" in shown


def test_pdf_is_a4_with_embedded_fonts(suzhou, tmp_path):
    campaign, city = suzhou
    draft = new_draft(campaign.periods[1], city)
    issue(draft, None)
    path = tmp_path / "c.pdf"
    path.write_bytes(draft.pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    assert "595.276 x 841.89 pts (A4)" in info
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts  # the "emb" column


def test_cli_render(runner, suzhou, tmp_path):
    campaign, city = suzhou
    out = tmp_path / "draft.pdf"
    result = runner.invoke(args=["circulars", "render", "--region", "3413", "--period",
                                 str(campaign.periods[1].id), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = pdf_text(out.read_bytes(), tmp_path)
    assert "关于2023年度城乡居民基本医疗保险" in text and "埇桥区" in text
    assert db.session.scalar(select(Circular)) is None  # rendering a draft stores nothing
    bad = runner.invoke(args=["circulars", "render", "--region", "9999", "--period", "1", "--out", str(out)])
    assert bad.exit_code != 0


def test_web_draft_edit_issue_and_archive(client, auth, runner, suzhou):
    campaign, city = suzhou
    make_user("admin", "city_admin", "3413")
    auth.login("admin")
    answer = client.post("/circulars/", data={"region": "3413", "period": campaign.periods[1].id})
    assert answer.status_code == 303
    edit_url = answer.headers["Location"]
    page = client.get(edit_url).get_data(as_text=True)
    assert "一、总体进展" in page and "<iframe" in page
    circular = db.session.scalar(select(Circular))
    form = {"title": circular.title, "body": circular.body.replace("进度较快", "进度很快"), "issuer": "宿州市医疗保障局",
            "prefix": "宿医保", "addressee": "各县（区）医疗保障局", "copy_to": "市人民政府办公室",
            "printed_by": "宿州市医疗保障局办公室"}
    fragment = client.post(edit_url, data=form, headers={"HX-Request": "true"})
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in html and 'id="preview"' in html
    preview = client.get(f"/circulars/{circular.id}/print").get_data(as_text=True)
    assert "进度很快" in preview and "各县（区）医疗保障局：" in preview
    bad = client.post(edit_url, data={**form, "title": ""}, headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "标题不能为空" in bad.get_data(as_text=True)
    issued = client.post(f"/circulars/{circular.id}/issue")
    assert issued.status_code == 303
    archive = client.get("/circulars/").get_data(as_text=True)
    assert "宿医保〔2022〕1号" in archive and "已印发" in archive
    fragment = client.get(f"/circulars/?period={campaign.periods[0].id}", headers={"HX-Request": "true"})
    assert "<html" not in fragment.get_data(as_text=True) and "宿医保" not in fragment.get_data(as_text=True)
    download = client.get(f"/circulars/{circular.id}.pdf")
    assert download.mimetype == "application/pdf" and download.data.startswith(b"%PDF")
    token = runner.invoke(args=["users", "token", "admin"]).stdout.strip().splitlines()[-1]
    api = client.get(f"/api/v1/circulars/{circular.id}.pdf", headers={"Authorization": f"Bearer {token}"})
    assert api.data == download.data
    assert client.get(f"/api/v1/circulars/{circular.id}.pdf").status_code == 401
    make_user("lingbi", "county_filer", "341323")
    other = runner.invoke(args=["users", "token", "lingbi"]).stdout.strip().splitlines()[-1]
    # an issued circular is addressed to the units under its region (one outside it: tests/test_review.py)
    assert client.get(f"/api/v1/circulars/{circular.id}.pdf",
                      headers={"Authorization": f"Bearer {other}"}).data == download.data
