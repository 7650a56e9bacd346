"""信息系统数据 beside the typed figures of 朱集镇: import, the gap and its flag, the basis `system`, watch."""
import datetime as dt
import os

import pytest
from sqlalchemy import func, select

from reporting.extensions import db
from reporting.models import AuditEntry, Report, Revision, SystemFigure
from reporting.progress.ranking import progress
from reporting.regions.hierarchy import region_by_code

from .conftest import bearer, make_user, token_for
from .fixtures.zhuji import TASKS, file

TOWNSHIP = "341323117"
#: 星光's typed 已参保 runs 600 ahead of the system; the others are within a few people
FAR = "星光"


@pytest.fixture
def week(zhuji, frozen_now):
    """Week 1 of 朱集镇 filed by every village at 30% of its task (as of 9月7日), judged on 9月9日."""
    campaign, villages = zhuji
    period = campaign.periods[0]
    file(period, villages, {name: 0.30 for name in TASKS}, dt.datetime(2022, 9, 7, 10), frozen_now)
    frozen_now(dt.datetime(2022, 9, 9, 10))
    return campaign, villages, period


def typed(name: str) -> int:
    return round(TASKS[name] * 0.30)


def system_enrolled(name: str) -> int:
    """What the system shows: 星光 600 people behind its typed count, 朱集 20 behind (2% of 1,417 is 28)."""
    return typed(name) - {FAR: 600, "朱集": 20}.get(name, 0)


def write_export(path, villages, names=None, extra_columns=""):
    names = names or list(TASKS)
    lines = [f"单位代码,居民医保已参保人数,居民医保应参保人数,数据日期{extra_columns}"]
    for name in names:
        lines.append(f"{villages[name].code},{system_enrolled(name)},{TASKS[name] + 100},2022-09-06")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_import_keeps_the_figures_apart_and_the_township_gets_the_sum(week, runner, tmp_path):
    campaign, villages, period = week
    revisions = db.session.scalar(select(func.count(Revision.id)))
    reports = db.session.scalar(select(func.count(Report.id)))
    export = write_export(tmp_path / "export.csv", villages)
    result = runner.invoke(args=["system-figures", "import", str(period.id), export])
    assert result.exit_code == 0, result.output
    assert "13行" in result.stdout and "14个单位" in result.stdout
    # the reports are untouched: no revision, no new report; one audit entry for the import
    assert db.session.scalar(select(func.count(Revision.id))) == revisions
    assert db.session.scalar(select(func.count(Report.id))) == reports
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.kind == "system_figures.import")).all()
    assert len(entries) == 1 and entries[0].after["file"] == "export.csv" and entries[0].after["rows"] == 13
    town = db.session.scalar(select(SystemFigure).where(SystemFigure.region_id == region_by_code(TOWNSHIP).id))
    assert town.values["enrolled"] == sum(system_enrolled(n) for n in TASKS) and not town.own
    assert town.at == dt.date(2022, 9, 6)

    # a second import of the period replaces the first
    again = write_export(tmp_path / "again.csv", villages, names=["朱集", "张家"])
    result = runner.invoke(args=["system-figures", "import", str(period.id), again])
    assert result.exit_code == 0, result.output
    stored = db.session.scalars(select(SystemFigure).where(SystemFigure.period_id == period.id)).all()
    assert len(stored) == 3  # two villages and their township


def test_a_bad_row_refuses_the_whole_file_with_the_reports_import_messages(week, runner, tmp_path):
    campaign, villages, period = week
    good = write_export(tmp_path / "good.csv", villages)
    assert runner.invoke(args=["system-figures", "import", str(period.id), good]).exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("单位代码,居民医保已参保人数\n"
                   f"{villages['朱集'].code},12a\n"
                   f"{villages['张家'].code},-5\n"
                   "440705000000,100\n"
                   f"{villages['岳巷'].code},300\n", encoding="utf-8")
    result = runner.invoke(args=["system-figures", "import", str(period.id), str(bad)])
    assert result.exit_code != 0
    assert "第2行" in result.output and "应为整数，“12a”不是整数" in result.output
    assert "不能为负数" in result.output and "单位代码 440705000000 不是本征缴期的单位" in result.output
    # all or nothing: the earlier import stands whole
    assert db.session.scalar(select(func.count(SystemFigure.id)).where(SystemFigure.period_id == period.id)) == 14


def test_a_township_row_of_its_own_is_kept_and_a_disagreeing_sum_is_a_warning(week, runner, tmp_path):
    campaign, villages, period = week
    export = tmp_path / "mixed.csv"
    export.write_text(f"单位代码,enrolled\n{TOWNSHIP},9999\n{villages['朱集'].code},1000\n"
                      f"{villages['张家'].code},500\n", encoding="utf-8")
    result = runner.invoke(args=["system-figures", "import", str(period.id), str(export)])
    assert result.exit_code == 0, result.output
    assert "其下级单位合计1,500人，不一致" in result.stderr
    town = db.session.scalar(select(SystemFigure).where(SystemFigure.region_id == region_by_code(TOWNSHIP).id))
    assert town.values == {"enrolled": 9999} and town.own


def test_the_api_shows_the_gap_and_flags_the_one_village_far_off(week, runner, client, tmp_path):
    campaign, villages, period = week
    export = write_export(tmp_path / "export.csv", villages)
    assert runner.invoke(args=["system-figures", "import", str(period.id), export]).exit_code == 0
    make_user("boss", "viewer", TOWNSHIP)
    headers = bearer(token_for(runner, "boss"))
    body = client.get(f"/api/v1/progress/{TOWNSHIP}?period={period.id}", headers=headers).get_json()
    assert body["region"]["basis"] == "reported"
    assert body["region"]["system"]["totals"]["enrolled"] == sum(system_enrolled(n) for n in TASKS)
    assert body["region"]["system_gap"]["enrolled"] == 620
    children = {c["name"][:-3]: c for c in body["children"]}
    assert children[FAR]["system"] == {"totals": {"enrolled": system_enrolled(FAR),
                                                  "should_enroll": TASKS[FAR] + 100}, "at": "2022-09-06"}
    assert children[FAR]["system_gap"] == {"enrolled": 600, "should_enroll": 0}
    # 朱集's 20 people are below both 50 people and 2%: only 星光 is flagged
    assert [name for name, c in children.items() if c["system_mismatch"]] == [FAR]
    # the ranking still reads the typed figures
    assert children[FAR]["totals"]["enrolled"] == typed(FAR)

    # a lower threshold flags 朱集 too
    result = runner.invoke(args=["campaign", "system-threshold", str(campaign.id), "--share", "0.01",
                                 "--people", "10"])
    assert result.exit_code == 0, result.output
    body = client.get(f"/api/v1/progress/{TOWNSHIP}?period={period.id}", headers=headers).get_json()
    assert sorted(c["name"][:-3] for c in body["children"] if c["system_mismatch"]) == sorted([FAR, "朱集"])


def test_without_system_figures_the_answer_says_so(week, runner, client):
    campaign, villages, period = week
    make_user("boss", "viewer", TOWNSHIP)
    body = client.get(f"/api/v1/progress/{TOWNSHIP}?period={period.id}",
                      headers=bearer(token_for(runner, "boss"))).get_json()
    assert body["region"]["system"] is None and body["region"]["system_gap"] is None
    assert not any(c["system_mismatch"] or c["system"] for c in body["children"])


def test_basis_system_ranks_and_completes_by_the_systems_figures(week, runner, client, tmp_path):
    campaign, villages, period = week
    # every village at 30%; the system shows 星光 far lower, and has no row for 湖光
    names = [n for n in TASKS if n != "湖光"]
    export = write_export(tmp_path / "export.csv", villages, names=names)
    assert runner.invoke(args=["system-figures", "import", str(period.id), export]).exit_code == 0
    town = region_by_code(TOWNSHIP)
    before = {r.region.name[:-3]: r for r in progress(period, town, "completion").children}
    assert before[FAR].completion == pytest.approx(typed(FAR) / TASKS[FAR])

    result = runner.invoke(args=["campaign", "basis", str(campaign.id), "system"])
    assert result.exit_code == 0 and "以信息系统数据为准" in result.stdout
    db.session.expire_all()
    answer = progress(period, town, "completion")
    rows = {r.region.name[:-3]: r for r in answer.children}
    assert rows[FAR].completion == pytest.approx(system_enrolled(FAR) / TASKS[FAR])
    assert rows[FAR].rank == 13 and before[FAR].rank < 13  # 17% of its task against 30% for the rest
    assert rows[FAR].source == "system" and rows[FAR].system_mismatch
    # 湖光 has no system figures: its typed ones count, marked 填报数
    assert rows["湖光"].source == "reported" and rows["湖光"].enrolled == typed("湖光")
    # other keys follow key by key: 应参保 from the system
    assert rows["朱集"].totals.get("should_enroll") == TASKS["朱集"] + 100
    assert rows["朱集"].totals.get("population") == TASKS["朱集"] * 2  # the system has none: typed
    assert answer.region.enrolled == sum(system_enrolled(n) for n in names) + typed("湖光")

    make_user("boss", "viewer", TOWNSHIP)
    body = client.get(f"/api/v1/progress/{TOWNSHIP}?period={period.id}",
                      headers=bearer(token_for(runner, "boss"))).get_json()
    assert body["region"]["basis"] == "system"
    last = body["children"][-1]
    assert last["name"][:-3] == FAR and last["rank"] == 13
    assert last["completion"] == pytest.approx(system_enrolled(FAR) / TASKS[FAR])
    assert last["totals"]["enrolled"] == system_enrolled(FAR) and last["system_gap"]["enrolled"] == 600


def test_watch_imports_dropped_files_and_refuses_with_a_log(week, runner, tmp_path):
    campaign, villages, period = week
    drop = tmp_path / "drop"
    drop.mkdir()
    write_export(drop / f"{period.id}_朱集镇.csv", villages)
    # the period named in a 期次 column instead of the file name
    second = campaign.periods[1]
    (drop / "export.csv").write_text(f"期次,单位代码,enrolled\n{second.id},{villages['朱集'].code},1500\n",
                                     encoding="utf-8")
    (drop / "nameless.csv").write_text(f"单位代码,enrolled\n{villages['朱集'].code},1500\n", encoding="utf-8")
    (drop / f"{period.id}_bad.csv").write_text(f"单位代码,enrolled\n{villages['朱集'].code},很多\n", encoding="utf-8")
    (drop / ".partial.csv").write_text("still being written", encoding="utf-8")

    result = runner.invoke(args=["system-figures", "watch", str(drop)])
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(drop / "done")) == sorted([f"{period.id}_朱集镇.csv", "export.csv"])
    assert sorted(os.listdir(drop / "failed")) == sorted(["nameless.csv", "nameless.csv.log",
                                                         f"{period.id}_bad.csv", f"{period.id}_bad.csv.log"])
    assert "无法确定期次" in (drop / "failed" / "nameless.csv.log").read_text(encoding="utf-8")
    assert "“很多”不是整数" in (drop / "failed" / f"{period.id}_bad.csv.log").read_text(encoding="utf-8")
    assert os.path.exists(drop / ".partial.csv")  # a file still being written is left alone
    stored = {p: db.session.scalar(select(func.count(SystemFigure.id)).where(SystemFigure.period_id == p))
              for p in (period.id, second.id)}
    assert stored == {period.id: 14, second.id: 2}


def test_two_watchers_never_take_the_same_file(tmp_path):
    from reporting.basis.system_figures import claim_files
    (tmp_path / "1_a.csv").write_text("单位代码,enrolled\n", encoding="utf-8")
    first, second = claim_files(str(tmp_path)), claim_files(str(tmp_path))
    assert [os.path.basename(p) for p in first] == ["1_a.csv"] and second == []


@pytest.fixture
def far_off(week, runner, tmp_path):
    """Week 1's system figures imported: 星光 600 people behind its typed count."""
    campaign, villages, period = week
    export = write_export(tmp_path / "export.csv", villages)
    assert runner.invoke(args=["system-figures", "import", str(period.id), export]).exit_code == 0
    return week


def test_the_flag_shows_on_dashboard_grid_home_and_review(far_off, client, auth):
    campaign, villages, period = far_off
    make_user("lb", "township_filer", TOWNSHIP)
    auth.login("lb")
    page = client.get(f"/dashboard/{TOWNSHIP}?period={period.id}").get_data(as_text=True)
    assert page.count("与信息系统相差600人") == 1 and "信息系统<br>已参保" in page
    grid = client.get(f"/filing/{period.id}/{TOWNSHIP}").get_data(as_text=True)
    row = grid.split(f'id="u-{villages[FAR].code}"')[1].split("</tr>")[0]
    assert "与信息系统相差600人" in row and grid.count("与信息系统相差") == 1
    home = client.get("/").get_data(as_text=True)
    assert "核实与信息系统的差异" in home and "星光村委会与信息系统相差600人" in home
    auth.logout()
    make_user("boss", "city_admin", "341323")
    auth.login("boss")
    review_page = client.get(f"/review/{TOWNSHIP}?period={period.id}").get_data(as_text=True)
    row = review_page.split(f'id="r-{villages[FAR].code}"')[1].split("</tr>")[0]
    assert "与信息系统相差600人" in row and review_page.count("与信息系统相差") == 1


def test_the_dashboard_names_the_basis_and_marks_typed_figures(far_off, runner, client, auth, tmp_path):
    campaign, villages, period = far_off
    export = write_export(tmp_path / "some.csv", villages, names=[n for n in TASKS if n != "湖光"])
    assert runner.invoke(args=["system-figures", "import", str(period.id), export]).exit_code == 0
    assert runner.invoke(args=["campaign", "basis", str(campaign.id), "system"]).exit_code == 0
    make_user("boss", "city_admin", "341323")
    auth.login("boss")
    page = client.get(f"/dashboard/{TOWNSHIP}?period={period.id}").get_data(as_text=True)
    assert "以信息系统数据为准（数据日期9月6日）" in page
    ranking = page.split('id="ranking"')[1]
    row = ranking.split("湖光村委会</a>")[1].split("</tr>")[0]
    assert "填报数" in row and ranking.count(">填报数<") == 1


def test_the_ranking_workbook_carries_the_system_columns(far_off, client, auth):
    import io

    from openpyxl import load_workbook
    campaign, villages, period = far_off
    make_user("boss", "city_admin", "341323")
    auth.login("boss")
    data = client.get(f"/dashboard/{TOWNSHIP}/ranking.xlsx?period={period.id}").data
    sheet = load_workbook(io.BytesIO(data)).active
    headings = [c.value for c in sheet[3]]
    at = headings.index("信息系统已参保人数")
    rows = {r[1]: r for r in sheet.iter_rows(min_row=4, values_only=True)}
    far = rows[villages[FAR].code]
    assert far[at] == system_enrolled(FAR) and far[at + 1] == 600 and far[at + 2] == "与信息系统相差600人"
    assert rows[villages["朱集"].code][at + 1] == 20 and not rows[villages["朱集"].code][at + 2]


def test_the_circular_names_the_unit_ahead_of_the_system_and_its_basis(far_off, runner):
    from reporting.circulars.circulars import build_document, draft_body, system_table
    campaign, villages, period = far_off
    town = region_by_code(TOWNSHIP)
    text = draft_body(progress(period, town))
    assert "星光村委会填报已参保人数高于信息系统600人，请核实。" in text
    assert "朱集村委会填报" not in text  # 20 people: within the threshold
    assert "本通报数据以各地填报数据为准" in text
    table = system_table(progress(period, town))
    at = table.header.index("信息系统")
    far = next(row for row in table.rows if row[0] == villages[FAR].name)
    assert far[at] == f"{system_enrolled(FAR):,}" and far[at + 1] == "+600" and far[at + 2] == "请核实"
    doc = build_document(period, town, title="通报", body="正文", issue_no=1, doc_prefix="灵医保", doc_year=2022,
                         doc_seq=1, date=dt.date(2022, 9, 9))
    assert any(a.table is not None and "信息系统" in a.table.header for a in doc.attachments)

    assert runner.invoke(args=["campaign", "basis", str(campaign.id), "system"]).exit_code == 0
    db.session.expire_all()
    text = draft_body(progress(period, town))
    assert "本通报数据以信息系统数据为准（数据日期9月6日）。" in text
    # the totals it gives are the system's
    assert f"全镇已参保缴费{sum(system_enrolled(n) for n in TASKS):,}人" in text
    assert "星光村委会填报已参保人数高于信息系统600人，请核实。" in text


def test_a_circular_without_system_figures_reads_as_before(week):
    from reporting.circulars.circulars import draft_body, system_table
    campaign, villages, period = week
    result = progress(period, region_by_code(TOWNSHIP))
    assert "信息系统" not in draft_body(result) and system_table(result) is None


def test_a_city_admin_uploads_the_export_on_its_page(week, client, auth, tmp_path):
    import io
    campaign, villages, period = week
    make_user("boss", "city_admin", "341323")
    make_user("zj", "township_filer", TOWNSHIP)
    auth.login("zj")
    assert client.get(f"/system-figures/{period.id}").status_code == 403
    auth.logout()
    auth.login("boss")
    dashboard = client.get(f"/dashboard/{TOWNSHIP}?period={period.id}").get_data(as_text=True)
    assert f"/system-figures/{period.id}" in dashboard
    page = client.get(f"/system-figures/{period.id}").get_data(as_text=True)
    assert "本期尚未导入信息系统数据" in page and "<html" in page
    fragment = client.get(f"/system-figures/{period.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "本期尚未导入信息系统数据" in fragment and "<html" not in fragment

    bad = f"单位代码,enrolled\n{villages['朱集'].code},很多\n".encode()
    answer = client.post(f"/system-figures/{period.id}", data={"export": (io.BytesIO(bad), "export.csv")},
                         content_type="multipart/form-data")
    assert answer.status_code == 422 and "“很多”不是整数" in answer.get_data(as_text=True)
    assert db.session.scalar(select(func.count(SystemFigure.id))) == 0

    good = write_export(tmp_path / "export.csv", villages)
    with open(good, "rb") as f:
        answer = client.post(f"/system-figures/{period.id}", data={"export": (f, "export.csv")},
                             content_type="multipart/form-data", follow_redirects=True)
    text = answer.get_data(as_text=True)
    assert "已导入第1期" in text and "14个单位" in text and "数据日期2022年9月6日" in text
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.kind == "system_figures.import"))
    assert entry.username == "boss"


def test_a_long_file_shows_a_progress_bar_and_sums_up_to_the_city(jiangmen, runner, tmp_path):
    from reporting.campaigns.campaigns import create_campaign

    from .conftest import villages as village_codes
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
    db.session.commit()
    codes = village_codes("4407")
    export = tmp_path / "city.csv"
    export.write_text("单位代码,enrolled\n" + "".join(f"{code},{n}\n" for n, code in enumerate(codes)), encoding="utf-8")
    result = runner.invoke(args=["system-figures", "import", str(campaign.periods[0].id), str(export)])
    assert result.exit_code == 0, result.output
    assert "导入信息系统数据" in result.stderr and f"{len(codes):,}行" in result.stdout
    city = db.session.scalar(select(SystemFigure).where(SystemFigure.region_id == jiangmen.id))
    assert city.values == {"enrolled": sum(range(len(codes)))}
    # the 通报's annex of townships follows the campaign's basis too
    from reporting.circulars.circulars import grandchildren_table
    runner.invoke(args=["campaign", "basis", str(campaign.id), "system"])
    db.session.expire_all()
    shadui = region_by_code("440705106")
    expected = sum(n for n, code in enumerate(codes) if code.startswith("440705106"))
    table = grandchildren_table(campaign.periods[0], jiangmen)
    row = next(r for r in table.rows if r[1] == shadui.name)
    assert row[3] == f"{expected:,}"


def test_the_commands_refuse_bad_input_in_chinese_and_change_nothing(week, runner, tmp_path):
    campaign, _, period = week
    result = runner.invoke(args=["system-figures", "import", "9999", str(tmp_path / "x.csv")])
    assert result.exit_code != 0 and "报送期次 9999 不存在" in result.output
    result = runner.invoke(args=["campaign", "system-threshold", str(campaign.id), "--share", "2", "--people", "50"])
    assert result.exit_code != 0 and "--share 应在0到1之间" in result.output
    result = runner.invoke(args=["campaign", "basis", "9999", "system"])
    assert result.exit_code != 0 and "征缴期 9999 不存在" in result.output
    db.session.expire_all()
    assert float(campaign.system_share) == 0.02 and campaign.system_people == 50 and campaign.basis == "reported"
    # a row above the campaign's root (the city of 朱集镇) is refused
    export = tmp_path / "outside.csv"
    export.write_text("单位代码,enrolled\n341323117200,5\n3413,9\n", encoding="utf-8")
    result = runner.invoke(args=["system-figures", "import", str(period.id), str(export)])
    assert result.exit_code != 0 and "单位代码 3413 不是本征缴期的单位" in result.output
    # a file naming another period in its 期次 column
    export.write_text(f"期次,单位代码,enrolled\n{campaign.periods[1].id},341323117200,5\n", encoding="utf-8")
    result = runner.invoke(args=["system-figures", "import", str(period.id), str(export)])
    assert result.exit_code != 0 and "不是要导入的期次" in result.output
    assert db.session.scalar(select(func.count(SystemFigure.id))) == 0
