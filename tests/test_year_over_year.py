"""Year over year: `campaign next`, 上年同期 figures in the progress answer and the 通报, last year read-only."""
import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select

from reporting.calendar.schedule import same_day_last_year
from reporting.campaigns.campaigns import CampaignError, link_previous
from reporting.circulars.circulars import chart_attachments, draft_body, ranking_table
from reporting.extensions import db
from reporting.filing.filing import import_reports
from reporting.models import AuditEntry, Campaign, Department, Indicator, Period, Report, Target
from reporting.progress.charts import last_year_points
from reporting.progress.ranking import last_year_course, progress, same_time_last_year

from .conftest import FILER, VALUES, make_user, villages

SVG = "{http://www.w3.org/2000/svg}"
TOWNSHIP = "341323117"  # 朱集镇, seed 001's 13 villages


def figures(enrolled: int) -> dict:
    """One village's 进度表 with `enrolled` people enrolled out of 1,100."""
    return {**VALUES, "population": 1200, "should_enroll": 1100, "enrolled": enrolled, "hardship_should": 20,
            "hardship_enrolled": 20, "students_enrolled": 100, "newborns_enrolled": 5}


def last_line(result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def two_years(anhui, runner, frozen_now, tmp_path):
    """朱集镇's 2024年度 campaign (each village's 任务数 1,000; 12 of its 13 villages filed periods 1
    and 2, the last village nothing) and the 2025年度 campaign made from it by `campaign next`."""
    frozen_now(dt.datetime(2024, 9, 2, 9, 0))
    first_id = int(last_line(runner.invoke(args=[
        "campaign", "create", "--name", "朱集镇2024年度", "--root", TOWNSHIP, "--start", "2024-09-01",
        "--end", "2024-12-31", "--extend-to", "2025-02-28"])))
    table = tmp_path / "tasks.csv"
    codes = villages(TOWNSHIP)
    table.write_text("单位代码,任务数\n" + "".join(f"{c},1000\n" for c in codes), encoding="utf-8")
    assert runner.invoke(args=["targets", "import", str(first_id), str(table)]).exit_code == 0
    first = db.session.get(Campaign, first_id)
    frozen_now(dt.datetime(2024, 10, 2, 9, 0))
    for period, enrolled in zip(first.periods[:2], (300, 500)):
        import_reports(period, [(n, code, figures(enrolled), FILER)
                                for n, code in enumerate(codes[:12])], submit=True)
    db.session.commit()
    result = runner.invoke(args=["campaign", "next", str(first_id), "--copy-targets"])
    second = db.session.get(Campaign, int(last_line(result)))
    return first, second, codes


def test_next_moves_every_date_a_year_and_dues_follow_that_years_calendar(two_years):
    first, second, _ = two_years
    assert second.name == "朱集镇2025年度" and second.previous_id == first.id
    assert (second.start, second.end, second.extend_to) == (dt.date(2025, 9, 1), dt.date(2025, 12, 31),
                                                            dt.date(2026, 2, 28))
    assert second.root_id == first.root_id and second.rhythm == first.rhythm
    assert second.report_level == first.report_level and len(second.periods) == len(first.periods)
    dues = {p.nominal_due: p.due for p in second.periods}
    # 国庆: 2024's 10月1日 moved to 10月8日; 2025's holiday runs to 10月8日, so 10月9日
    assert {p.nominal_due: p.due for p in first.periods}[dt.date(2024, 10, 1)] == dt.date(2024, 10, 8)
    assert dues[dt.date(2025, 10, 1)] == dt.date(2025, 10, 9)
    # 元旦 2026 (1月1日–3日 off, 4日 a working Sunday)
    assert dues[dt.date(2026, 1, 1)] == dt.date(2026, 1, 4)
    assert dues[dt.date(2025, 11, 15)] == dt.date(2025, 11, 17)  # a Saturday
    assert [p.as_of for p in second.periods][:2] == [dt.date(2025, 9, 14), dt.date(2025, 9, 30)]


def test_next_carries_the_settings_and_copies_targets_only_when_asked(anhui, runner, frozen_now):
    frozen_now(dt.datetime(2024, 9, 2, 9, 0))
    first_id = int(last_line(runner.invoke(args=[
        "campaign", "create", "--name", "朱集镇2024年度", "--root", TOWNSHIP, "--start", "2024-09-01",
        "--end", "2024-12-31", "--rhythm", "weekly", "--report-level", "village", "--target-rate", "0.97"])))
    assert runner.invoke(args=["campaign", "interview-rule", str(first_id), "--level", "village",
                               "--bottom", "2", "--periods", "3"]).exit_code == 0
    assert runner.invoke(args=["campaign", "issue-line", str(first_id), "on"]).exit_code == 0
    assert runner.invoke(args=["indicators", "add", str(first_id), "--key", "paid",
                               "--label", "已缴费人数"]).exit_code == 0
    assert runner.invoke(args=["departments", "add", str(first_id), "--name", "县税务局",
                               "--indicators", "paid"]).exit_code == 0
    db.session.add(Target(campaign_id=first_id, region_id=anhui.id, task=41850))
    db.session.commit()
    second = db.session.get(Campaign, int(last_line(runner.invoke(args=["campaign", "next", str(first_id)]))))
    assert (second.rhythm, float(second.target_rate), second.circular_issue_line) == ("weekly", 0.97, True)
    assert second.interview_rule("village") == (2, 3)
    assert [i.key for i in second.all_indicators] == [i.key for i in db.session.get(Campaign, first_id).all_indicators]
    departments = db.session.scalars(select(Department).where(Department.campaign_id == second.id)).all()
    assert [(d.name, d.indicator_keys) for d in departments] == [("县税务局", ["paid"])]
    assert db.session.scalar(select(func.count(Target.id)).where(Target.campaign_id == second.id)) == 0
    # a second `next` from the same year is refused: a year has one successor
    again = runner.invoke(args=["campaign", "next", str(first_id), "--name", "又一年"])
    assert again.exit_code != 0 and "已有下一年度" in again.output


def test_create_with_previous_links_the_years_and_the_api_says_so(two_years, runner, client):
    first, second, _ = two_years
    made = runner.invoke(args=["campaign", "create", "--name", "朱集镇2026年度", "--root", TOWNSHIP,
                               "--start", "2026-09-01", "--end", "2026-12-31", "--previous", str(second.id)])
    third_id = int(last_line(made))
    make_user("suzhou", "city_admin", "3413")
    token = last_line(runner.invoke(args=["users", "token", "suzhou"]))
    answer = client.get(f"/api/v1/campaigns/{third_id}", headers={"Authorization": f"Bearer {token}"})
    assert answer.get_json() == {"id": third_id, "name": "朱集镇2026年度", "root_code": TOWNSHIP,
                                 "start": "2026-09-01", "end": "2026-12-31", "extend_to": None,
                                 "rhythm": "semimonthly", "report_level": "village", "previous_id": second.id}
    assert client.get(f"/api/v1/campaigns/{first.id}", headers={"Authorization": f"Bearer {token}"}
                      ).get_json()["previous_id"] is None
    wrong = runner.invoke(args=["campaign", "create", "--name", "x", "--root", TOWNSHIP, "--start", "2023-09-01",
                                "--end", "2023-12-31", "--previous", str(second.id)])
    assert wrong.exit_code != 0 and "不早于" in wrong.output
    with pytest.raises(CampaignError):
        link_previous(first, first)


def test_same_day_last_year_and_the_period_it_picks(two_years):
    assert same_day_last_year(dt.date(2028, 2, 29)) == dt.date(2027, 2, 28)
    assert same_day_last_year(dt.date(2025, 10, 14)) == dt.date(2024, 10, 14)
    first, second, _ = two_years
    assert same_time_last_year(second.periods[1]) == first.periods[1]  # 9月30日 against 9月30日
    assert same_time_last_year(first.periods[1]) is None
    # `campaign next` copied the form: last year's is read as this year's
    assert last_year_course(second.periods[1]) == (first.periods[:2], True)


def test_progress_answer_has_last_year_at_the_same_date_and_the_difference(two_years, runner, client, frozen_now):
    first, second, codes = two_years
    frozen_now(dt.datetime(2025, 10, 2, 9, 0))
    import_reports(second.periods[1], [(n, code, figures(600), FILER)
                                       for n, code in enumerate(codes)], submit=True)
    db.session.commit()
    make_user("lingbi", "county_filer", "341323")
    token = last_line(runner.invoke(args=["users", "token", "lingbi"]))
    body = client.get(f"/api/v1/progress/{TOWNSHIP}?period={second.periods[1].id}",
                      headers={"Authorization": f"Bearer {token}"}).get_json()
    head = body["region"]
    assert head["last_year"] == {"campaign_id": first.id, "period_id": first.periods[1].id, "as_of": "2024-09-30",
                                 "totals": {k: 12 * v for k, v in figures(500).items()},
                                 "completion": 6000 / 13000, "rate": 6000 / 13200}
    assert body["measure"] == "completion"
    assert head["yoy_change"] == pytest.approx(7800 / 13000 - 6000 / 13000)
    assert head["yoy_enrolled"] == 1800
    children = {c["code"]: c for c in body["children"]}
    assert children[codes[0]]["last_year"]["totals"]["enrolled"] == 500
    assert children[codes[0]]["yoy_change"] == pytest.approx(0.1)
    # the village that filed nothing last year has no 上年同期
    assert children[codes[12]]["last_year"] is None and children[codes[12]]["yoy_change"] is None
    by_rate = client.get(f"/api/v1/progress/{TOWNSHIP}?period={second.periods[1].id}&measure=rate",
                         headers={"Authorization": f"Bearer {token}"}).get_json()
    assert by_rate["region"]["yoy_change"] == pytest.approx(7800 / 14300 - 6000 / 13200)
    # last year's own answer has nothing to compare with
    old = client.get(f"/api/v1/progress/{TOWNSHIP}?period={first.periods[1].id}",
                     headers={"Authorization": f"Bearer {token}"}).get_json()
    assert old["region"]["last_year"] is None and old["region"]["yoy_change"] is None
    assert all(c["last_year"] is None for c in old["children"])


def test_circular_says_how_this_year_stands_against_the_same_time_last_year(two_years, frozen_now):
    first, second, codes = two_years
    frozen_now(dt.datetime(2025, 10, 2, 9, 0))
    import_reports(second.periods[1], [(n, code, figures(600), FILER)
                                       for n, code in enumerate(codes)], submit=True)
    db.session.commit()
    result = progress(second.periods[1], first.root)
    body = draft_body(result)
    assert "与上年同期（截至2024年9月30日）相比，已参保缴费人数增加1,800人，完成率较上年同期提高13.85个百分点。" in body
    table = ranking_table(result)
    assert "同比" in table.header and "较上年同期" in table.notes[-1]
    column = table.header.index("同比")
    assert table.rows[-1][column] == "+13.85" and table.header[column + 1] == "报送"  # in place of the light
    assert "上年同期" not in draft_body(progress(first.periods[1], first.root))
    assert "同比" not in ranking_table(progress(first.periods[1], first.root)).header


def test_last_year_is_read_only_once_closed_except_a_city_admins_correction(two_years, runner, client, auth,
                                                                            frozen_now, tmp_path):
    first, second, codes = two_years
    make_user("lingbi", "county_filer", "341323")
    make_user("suzhou", "city_admin", "3413")
    tokens = {name: last_line(runner.invoke(args=["users", "token", name])) for name in ("lingbi", "suzhou")}
    frozen_now(dt.datetime(2025, 10, 2, 9, 0))  # 2024年度 closed on 2025年2月28日
    url = f"/api/v1/reports/{codes[0]}/{first.periods[1].id}"
    changed = {"values": figures(520), "filer": FILER, "submit": True,
               "reason": "更正"}
    put = client.put(url, json=changed, headers={"Authorization": f"Bearer {tokens['lingbi']}"})
    assert put.status_code == 409 and "已关闭" in put.get_json()["errors"][0]["message"]
    missing = client.put(f"/api/v1/reports/{codes[12]}/{first.periods[1].id}", json=changed,
                         headers={"Authorization": f"Bearer {tokens['lingbi']}"})
    assert missing.status_code == 409
    sheet = tmp_path / "late.csv"
    sheet.write_text("单位代码,should_enroll,enrolled\n" + f"{codes[12]},1100,400\n", encoding="utf-8")
    imported = runner.invoke(args=["reports", "import", str(first.periods[1].id), str(sheet), "--submit"])
    assert imported.exit_code != 0 and "已关闭" in imported.output
    auth.login("lingbi")
    grid = client.post(f"/filing/{first.periods[1].id}/341323/units/{codes[0]}",
                       data={"enrolled": "520", "revision": "1", "reason": "更正"}, headers={"HX-Request": "true"})
    assert "已关闭" in grid.get_data(as_text=True)  # the row answers in place, with the message
    auth.logout()
    assert db.session.scalar(select(func.count(Report.id)).where(Report.period_id == first.periods[1].id)) == 12
    assert db.session.scalar(select(func.sum(Report.v3)).where(Report.period_id == first.periods[1].id)) == 6000
    # the city admin corrects with a reason; without one nothing is saved
    no_reason = client.put(url, json={**changed, "reason": ""},
                           headers={"Authorization": f"Bearer {tokens['suzhou']}"})
    assert no_reason.status_code == 422 and "修改原因" in no_reason.get_json()["errors"][0]["message"]
    fixed = client.put(url, json=changed, headers={"Authorization": f"Bearer {tokens['suzhou']}"})
    assert fixed.status_code == 200 and fixed.get_json()["values"]["enrolled"] == 520
    entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.kind == "report.correct" and entry.username == "suzhou" and "更正" in str(entry.after)


def test_dashboard_and_ranking_workbook_show_the_change_against_last_year(two_years, client, auth, frozen_now):
    import io

    from openpyxl import load_workbook
    first, second, codes = two_years
    frozen_now(dt.datetime(2025, 10, 2, 9, 0))
    import_reports(second.periods[1], [(n, code, figures(600), FILER) for n, code in enumerate(codes)], submit=True)
    db.session.commit()
    make_user("suzhou", "city_admin", "3413")
    auth.login("suzhou")
    html = client.get(f"/dashboard/{TOWNSHIP}?period={second.periods[1].id}").get_data(as_text=True)
    head = html.split('id="head-yoy"')[1].split("</dd>")[0]
    assert "提高13.85个百分点" in head and "参保人数增加1,800人" in head
    assert "<th class=\"num\" title=\"与上年同期" in html and "无上年同期数据" in html  # the village new to it
    sheet = load_workbook(io.BytesIO(client.get(f"/dashboard/{TOWNSHIP}/ranking.xlsx?period={second.periods[1].id}")
                                     .data)).active
    header = [c.value for c in sheet[3]]
    at = header.index("较上年同期（百分点）")
    lines = {row[1]: row for row in sheet.iter_rows(min_row=4, values_only=True)}
    assert lines[codes[0]][at] == 10.0 and lines[codes[0]][at + 1] == 100
    assert lines[codes[12]][at] == "无上年同期数据"
    total = [row for row in sheet.iter_rows(min_row=4, values_only=True) if row[2] == "合计"][0]
    assert total[at] == 13.85 and total[at + 1] == 1800
    # last year's own dashboard has no such column
    old = client.get(f"/dashboard/{TOWNSHIP}?period={first.periods[1].id}").get_data(as_text=True)
    assert "较上年同期" not in old


def test_demos_start_with_last_years_simulated_campaign_to_compare_with(demo):
    from reporting.calendar.schedule import current_period
    from reporting.demo.ninghe import load_ninghe
    from reporting.regions.hierarchy import region_by_code
    last = demo.previous
    assert last is not None and "模拟数据" in last.name and last.start == dt.date(2025, 9, 1)
    result = progress(current_period(demo, dt.date(2026, 11, 27)), demo.root)
    assert result.same_time.period_id in {p.id for p in last.periods}
    assert result.region.last_year.enrolled > 0 and result.region.yoy_change(result.measure) is not None
    assert all(r.last_year is not None for r in result.children)  # every county filed last year
    # last year's figures are the one basis of its period, as its own dashboard shows them
    from reporting.progress.rollup import basis
    before = db.session.get(Period, result.same_time.period_id)
    series = basis(before, demo.root)
    assert {r.region.id: r.last_year.totals.values for r in result.children} == \
        {unit: s[-1].values for unit, s in series.items()}
    assert progress(before, demo.root).region.totals.values == result.region.last_year.totals.values
    load_ninghe(echo=lambda line: None)
    db.session.commit()
    county = region_by_code("120117")
    ninghe = db.session.scalars(select(Campaign).where(Campaign.root_id == county.id)
                                .order_by(Campaign.start.desc())).first()
    assert ninghe.previous is not None and "模拟数据" in ninghe.previous.name
    assert progress(current_period(ninghe, dt.date(2026, 11, 27)), county).region.last_year is not None
    load_ninghe(echo=lambda line: None)  # loading again adds nothing
    assert db.session.scalar(select(func.count(Campaign.id)).where(Campaign.root_id == county.id)) == 2


def test_a_city_admin_makes_next_year_from_a_page(anhui, runner, client, auth, frozen_now):
    frozen_now(dt.datetime(2024, 9, 2, 9, 0))
    first_id = int(last_line(runner.invoke(args=[
        "campaign", "create", "--name", "朱集镇2024年度", "--root", TOWNSHIP, "--start", "2024-09-01",
        "--end", "2024-12-31"])))
    make_user("suzhou", "city_admin", "3413")
    make_user("lingbi", "county_filer", "341323")
    url = f"/admin/campaigns/{first_id}/next"
    auth.login("lingbi")
    assert client.post(url, data={}).status_code == 403
    assert "建立下一年度征缴期" not in client.get(f"/dashboard/{TOWNSHIP}").get_data(as_text=True)
    auth.logout()
    auth.login("suzhou")
    assert "建立下一年度征缴期" in client.get(f"/dashboard/{TOWNSHIP}").get_data(as_text=True)
    page = client.get(url).get_data(as_text=True)
    assert "2025年9月1日至2025年12月31日" in page and "建立朱集镇2025年度" in page
    too_long = client.post(url, data={"name": "年" * 201})
    assert too_long.status_code == 422 and "最多200个字" in too_long.get_data(as_text=True)
    made = client.post(url, data={"name": ""})
    assert made.status_code == 303
    second = db.session.scalar(select(Campaign).where(Campaign.previous_id == first_id))
    assert second.name == "朱集镇2025年度" and f"period={second.periods[0].id}" in made.headers["Location"]
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.kind == "campaign.next")).one()
    assert entry.username == "suzhou"
    assert "已有下一年度征缴期" in client.get(url).get_data(as_text=True)


def test_a_unit_with_nothing_filed_this_year_shows_no_fall_in_people(two_years, frozen_now):
    """Next year's campaign before anyone files: last year's counts stand beside nothing, not beside a
    zero read as a fall of every enrolled person."""
    first, second, codes = two_years
    frozen_now(dt.datetime(2025, 10, 2, 9, 0))
    result = progress(second.periods[1], first.root)
    assert result.region.last_year is not None and result.region.last_year.enrolled == 12 * 500
    assert result.region.yoy_enrolled is None
    assert all(row.yoy_enrolled is None for row in result.children)


def last_year_marks(svg: str) -> list[str]:
    """The tooltips of 上年同期's points on a progress chart, in order."""
    root = ET.fromstring(svg)
    group = [g for g in root.iter(SVG + "g") if g.get("class") == "last-year"]
    return [c.find(SVG + "title").text for g in group for c in g.iter(SVG + "circle")]


def test_progress_chart_draws_last_years_course_beside_this_years(two_years, client, auth, frozen_now):
    """Both years in one chart, on the dashboard and in the 通报: last year's 完成率 at each of its
    periods up to the same date, placed at that date a year on; none where there is no last year."""
    first, second, codes = two_years
    frozen_now(dt.datetime(2025, 10, 2, 9, 0))
    import_reports(second.periods[1], [(n, code, figures(600), FILER) for n, code in enumerate(codes)], submit=True)
    db.session.commit()
    result = progress(second.periods[1], first.root)
    points = last_year_points(result)
    # 2024年9月14日 and 9月30日 fall on this year's first two periods' dates: positions 0 and 1
    assert [(p.label, p.position) for p in points] == [("2024年9月14日", 0.0), ("2024年9月30日", 1.0)]
    assert [p.value for p in points] == pytest.approx([12 * 300 / 13000, 12 * 500 / 13000])
    make_user("suzhou", "city_admin", "3413")
    auth.login("suzhou")
    html = client.get(f"/dashboard/{TOWNSHIP}/charts?period={second.periods[1].id}",
                      headers={"HX-Request": "true"}).get_data(as_text=True)
    svg = html[html.index("<svg"):html.index("</svg>") + 6]
    assert last_year_marks(svg) == ["上年同期 2024年9月14日 完成率 27.69%", "上年同期 2024年9月30日 完成率 46.15%"]
    assert "上年同期" in "".join(ET.fromstring(svg).find(SVG + "g[@class='legend']").itertext())
    circular_svg = str(chart_attachments(second.periods[1], first.root, result)[0].svg)
    assert last_year_marks(circular_svg[:circular_svg.index("</svg>") + 6]) == last_year_marks(svg)
    # last year's own chart has no year before it
    old = client.get(f"/dashboard/{TOWNSHIP}/charts?period={first.periods[1].id}",
                     headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<svg" in old and "last-year" not in old and "上年同期" not in old
    assert last_year_points(progress(first.periods[1], first.root)) == []


def test_last_year_with_another_form_is_read_by_its_own(two_years, runner, frozen_now):
    """This year's form gained a column: last year's figures are still last year's own, read with
    last year's form, and the chart still draws them."""
    first, second, codes = two_years
    slot = max(i.slot for i in second.all_indicators) + 1
    db.session.add(Indicator(campaign_id=second.id, key="paid", label="已缴费人数", position=99, slot=slot))
    db.session.commit()
    db.session.expire_all()
    frozen_now(dt.datetime(2025, 10, 2, 9, 0))
    import_reports(second.periods[1], [(n, code, {**figures(600), "paid": 590}, FILER)
                                       for n, code in enumerate(codes)], submit=True)
    db.session.commit()
    assert last_year_course(second.periods[1]) == (first.periods[:2], False)  # the forms differ
    result = progress(second.periods[1], first.root)
    assert result.region.totals.get("paid") == 13 * 590
    assert result.region.last_year.totals.values == {k: 12 * v for k, v in figures(500).items()}
    assert [p.value for p in last_year_points(result)] == pytest.approx([12 * 300 / 13000, 12 * 500 / 13000])
