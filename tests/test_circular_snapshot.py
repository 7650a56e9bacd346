"""One moment for a 通报: a draft keeps the figures it was written from, 签发 refuses a stale draft
unless it is regenerated or issued as drafted, and then the annexes come from that same moment."""
import datetime as dt
import re
import subprocess

import pytest
from sqlalchemy import select

from reporting.campaigns.campaigns import create_campaign
from reporting.circulars.circulars import StaleDraft, issue, new_draft
from reporting.extensions import db
from reporting.filing.filing import import_reports
from reporting.models import Circular

from .conftest import FILER, make_user
from .fixtures.circulars import figures

COUNTIES = {"440703": 300_000, "440704": 120_000, "440705": 500_000, "440781": 600_000,
            "440783": 400_000, "440784": 250_000, "440785": 280_000}
TAISHAN = "440781"


def file(period, counties: dict):
    import_reports(period, [(n, code, figures(enrolled), FILER) for n, (code, enrolled)
                            in enumerate(counties.items())], submit=True, reason="报送")
    db.session.commit()


@pytest.fixture
def sixth(jiangmen, frozen_now):
    """江门市 filed by county: period 1 complete; period 2 filed by all but 台山市, before its due date."""
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1),
                                  report_level="county")
    first, second = campaign.periods[:2]
    file(first, {code: enrolled // 2 for code, enrolled in COUNTIES.items()})
    frozen_now(dt.datetime(2022, 10, 14, 10, 0))
    file(second, {code: enrolled for code, enrolled in COUNTIES.items() if code != TAISHAN})
    return campaign, second


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "c.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def body_total(text: str) -> int:
    return int(re.search(r"全市已参保缴费([\d,]+)人", text).group(1).replace(",", ""))


def annex_total(circular: Circular) -> int:
    """附件1's 合计 row: its 已参保人数 cell."""
    html = circular.html
    row = html[html.index("合计"):]
    return int(re.search(r">\s*([\d,]{7,})\s*<", row).group(1).replace(",", ""))


def test_a_draft_keeps_the_figures_and_version_it_was_written_from(sixth):
    campaign, period = sixth
    draft = new_draft(period, campaign.root)
    db.session.commit()
    pending_total = sum(COUNTIES.values()) - COUNTIES[TAISHAN] // 2
    assert draft.snapshot["region"]["totals"]["enrolled"] == pending_total
    assert draft.data_version and draft.written_at == dt.datetime(2022, 10, 14, 10, 0)
    assert body_total(draft.body) == pending_total
    # the annexes of that moment are kept beside the text: 附件1's 合计 is the body's figure
    ranking = draft.annexes[0]
    assert ranking["rows"][-1][1] == "合计" and ranking["rows"][-1][3] == f"{pending_total:,}"


def test_taishan_files_after_the_draft_and_the_issue_is_refused_until_chosen(sixth, frozen_now, tmp_path):
    campaign, period = sixth
    draft = new_draft(period, campaign.root)
    db.session.commit()
    drafted_total = body_total(draft.body)
    frozen_now(dt.datetime(2022, 10, 15, 9, 0))
    file(period, {TAISHAN: COUNTIES[TAISHAN]})

    with pytest.raises(StaleDraft) as refused:
        issue(draft, None)
    db.session.rollback()
    message = str(refused.value)
    # who filed, and the totals before and after
    assert "台山市已报送（待报→按时）" in message
    assert f"全市已参保缴费{drafted_total:,}人→{sum(COUNTIES.values()):,}人" in message
    assert db.session.get(Circular, draft.id).status == "draft"

    # issued as drafted: the body and every annex are the draft's moment
    issue(draft, None, mode="as_drafted")
    db.session.commit()
    assert body_total(draft.body) == drafted_total == annex_total(draft)
    assert draft.snapshot["region"]["totals"]["enrolled"] == drafted_total
    text = pdf_text(draft.pdf, tmp_path)
    assert f"{drafted_total:,}" in text and f"{sum(COUNTIES.values()):,}" not in text


def test_regenerate_writes_the_body_again_from_the_latest_figures(sixth, frozen_now):
    campaign, period = sixth
    draft = new_draft(period, campaign.root)
    draft.body = draft.body.replace("进度较快", "进度很快")  # a hand edit, redone by the regeneration
    db.session.commit()
    frozen_now(dt.datetime(2022, 10, 15, 9, 0))
    file(period, {TAISHAN: COUNTIES[TAISHAN]})
    issue(draft, None, mode="regenerate")
    db.session.commit()
    assert body_total(draft.body) == sum(COUNTIES.values()) == annex_total(draft)
    assert "台山市尚未报送" not in draft.body and "进度很快" not in draft.body


def test_an_unchanged_draft_issues_without_a_choice(sixth):
    campaign, period = sixth
    draft = new_draft(period, campaign.root)
    db.session.commit()
    issue(draft, None)
    db.session.commit()
    assert draft.status == "issued" and body_total(draft.body) == annex_total(draft)


def test_cli_draft_then_issue(runner, sixth, frozen_now):
    campaign, period = sixth
    made = runner.invoke(args=["circulars", "draft", "--region", "4407", "--period", str(period.id)])
    assert made.exit_code == 0, made.output
    draft_id = int(made.stdout.strip().splitlines()[-1])
    frozen_now(dt.datetime(2022, 10, 15, 9, 0))
    file(period, {TAISHAN: COUNTIES[TAISHAN]})

    refused = runner.invoke(args=["circulars", "issue", "--draft", str(draft_id)])
    assert refused.exit_code != 0 and "台山市已报送" in refused.output and "→" in refused.output
    assert db.session.get(Circular, draft_id).status == "draft"
    both = runner.invoke(args=["circulars", "issue", "--draft", str(draft_id), "--regenerate", "--as-drafted"])
    assert both.exit_code != 0

    done = runner.invoke(args=["circulars", "issue", "--draft", str(draft_id), "--as-drafted"])
    assert done.exit_code == 0, done.output
    assert int(done.stdout.strip().splitlines()[-1]) == draft_id
    circular = db.session.get(Circular, draft_id)
    assert circular.status == "issued" and body_total(circular.body) == annex_total(circular)
    again = runner.invoke(args=["circulars", "issue", "--draft", str(draft_id), "--regenerate"])
    assert again.exit_code != 0 and "已印发" in again.output


def test_cli_issue_by_region_and_period_still_drafts_and_issues(runner, sixth):
    campaign, period = sixth
    done = runner.invoke(args=["circulars", "issue", "--region", "4407", "--period", str(period.id)])
    assert done.exit_code == 0, done.output
    circular = db.session.get(Circular, int(done.stdout.strip().splitlines()[-1]))
    assert circular.status == "issued" and circular.doc_number == "江医保〔2022〕1号"


def test_edit_page_names_the_change_and_offers_regeneration(client, auth, sixth, frozen_now):
    campaign, period = sixth
    make_user("admin", "city_admin", "4407")
    auth.login("admin")
    edit_url = client.post("/circulars/", data={"region": "4407", "period": period.id}).headers["Location"]
    circular = db.session.scalar(select(Circular))
    assert "起草后数据已变化" not in client.get(edit_url).get_data(as_text=True)
    frozen_now(dt.datetime(2022, 10, 14, 10, 5))
    file(period, {TAISHAN: COUNTIES[TAISHAN]})

    page = client.get(edit_url).get_data(as_text=True)
    assert "起草后数据已变化" in page and "台山市已报送（待报→按时）" in page
    assert "按最新数据重新生成" in page and "手工修改" in page
    refused = client.post(f"/circulars/{circular.id}/issue")
    assert refused.status_code == 409 and "起草后数据已变化" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Circular, circular.id).status == "draft"

    regenerated = client.post(f"/circulars/{circular.id}/regenerate")
    assert regenerated.status_code == 303
    db.session.expire_all()
    assert body_total(db.session.get(Circular, circular.id).body) == sum(COUNTIES.values())
    assert "起草后数据已变化" not in client.get(edit_url).get_data(as_text=True)
    assert client.post(f"/circulars/{circular.id}/issue").status_code == 303
    db.session.expire_all()
    assert db.session.get(Circular, circular.id).status == "issued"


def test_issue_as_drafted_from_the_page(client, auth, sixth, frozen_now):
    campaign, period = sixth
    make_user("admin", "city_admin", "4407")
    auth.login("admin")
    client.post("/circulars/", data={"region": "4407", "period": period.id})
    circular = db.session.scalar(select(Circular))
    drafted = body_total(circular.body)
    frozen_now(dt.datetime(2022, 10, 14, 10, 5))
    file(period, {TAISHAN: COUNTIES[TAISHAN]})
    assert client.post(f"/circulars/{circular.id}/issue", data={"mode": "as_drafted"}).status_code == 303
    db.session.expire_all()
    issued = db.session.get(Circular, circular.id)
    assert issued.status == "issued" and annex_total(issued) == drafted


# --- numbers a bureau can sign ----------------------------------------------------------------

def test_a_rate_short_of_one_hundred_percent_never_prints_as_one_hundred():
    from reporting.filters import percent
    assert percent(0.99996) == "99.99%" and percent(0.999949) == "99.99%"
    assert percent(1.0) == "100.00%" and percent(1.00004) == "100.00%" and percent(0.95123) == "95.12%"


def test_the_hardship_gap_is_the_sum_of_the_units_gaps(jiangmen, frozen_now):
    """台山市 11 and 开平市 1 uncovered, 鹤山市 5 above its roster: 12 people, not 7."""
    from reporting.circulars.circulars import draft_body
    from reporting.progress.ranking import progress
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1),
                                  report_level="county")
    enrolled_hardship = {"440781": 89, "440783": 99, "440784": 105}
    import_reports(campaign.periods[0], [
        (n, code, {**figures(enrolled), "hardship_enrolled": enrolled_hardship.get(code, 100)}, FILER)
        for n, (code, enrolled) in enumerate(COUNTIES.items())], submit=True)
    db.session.commit()
    result = progress(campaign.periods[0], jiangmen)
    assert result.hardship_gap == 12
    assert "困难群众参保尚有12人未覆盖（涉及台山市、开平市）" in draft_body(result)


def test_a_unit_still_to_report_shows_a_dash_for_its_change(sixth):
    from reporting.circulars.circulars import ranking_table
    from reporting.progress.ranking import progress
    campaign, period = sixth
    table = ranking_table(progress(period, campaign.root))
    change = table.header.index("较上期百分点")
    rows = {row[1]: row for row in table.rows}
    assert rows["台山市"][change] == "—"
    assert rows["新会区"][change].startswith("+")


def test_a_level_headline_says_yu_shang_qi_chi_ping(sixth):
    from reporting.circulars.circulars import draft_body
    from reporting.progress.ranking import progress
    campaign, period = sixth
    # period 2 filed with period 1's figures again: no change at all
    file(period, {code: enrolled // 2 for code, enrolled in COUNTIES.items()})
    body = draft_body(progress(period, campaign.root))
    assert "与上期持平" in body and "提高0.00个百分点" not in body


# --- tables that never collapse ------------------------------------------------------------------

def test_tables_print_short_names_and_the_api_keeps_the_official_ones():
    from reporting.circulars.wording import short_name
    assert short_name("南联村民委员会") == "南联村" and short_name("东门社区居民委员会") == "东门社区"
    assert short_name("泗合村委会") == "泗合村" and short_name("会城街道办事处") == "会城街道"
    assert short_name("新会区") == "新会区"


def test_the_report_column_holds_one_short_state_and_a_carried_figure_is_marked(sixth):
    from reporting.circulars.circulars import ranking_table
    from reporting.progress.ranking import progress
    campaign, period = sixth
    table = ranking_table(progress(period, campaign.root))
    rows = {row[1]: row for row in table.rows}
    state, enrolled = table.header.index("报送"), table.header.index("已参保人数")
    assert rows["台山市"][state] == "待报" and rows["新会区"][state] == "按时"
    assert {row[state] for row in table.rows} <= {"按时", "逾期", "未报", "待报", ""}
    assert rows["台山市"][enrolled] == f"{COUNTIES[TAISHAN] // 2:,}*" and table.notes == ["*沿用第1期数据"]
    # the marked figure is still a number: right-aligned with the others
    assert table.column_aligns[enrolled] == "right"
