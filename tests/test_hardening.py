"""Hardening: the defects a hostile probe found, each pinned by a test that failed before its fix."""
from __future__ import annotations

import datetime as dt
import io
import re
import threading
import time
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from forms.admin import AuditFilterForm
from reporting.campaigns.campaigns import create_campaign
from reporting.departments.departments import add_department
from reporting.extensions import db
from reporting.models import Region
from reporting.regions.hierarchy import descendants_at, region_by_code
from reporting.supervision import supervision

from .conftest import make_user, serve

HX = {"HX-Request": "true"}


def test_the_test_server_waits_for_requests_in_flight(app):
    """A browser closed at a test's end can leave a request running; the server must not stop
    under it, or its database connection outlives the engine and the garbage collector closes it
    during some later test (a ResourceWarning, an error under filterwarnings = error)."""
    started, answers = threading.Event(), []

    def slow():
        db.session.execute(text("SELECT 1"))  # holds a connection, as every page does
        started.set()
        time.sleep(1)
        return "完成"
    app.add_url_rule("/slow-for-test", view_func=slow)

    def call(url: str) -> None:
        try:
            with urllib.request.urlopen(url + "/slow-for-test", timeout=30) as response:
                answers.append(response.read().decode())
        except OSError as error:
            answers.append(repr(error))

    with serve(app) as url:
        caller = threading.Thread(target=call, args=(url,))
        caller.start()
        assert started.wait(30)
    assert db.engine.pool.checkedout() == 0  # the request ended, and gave its connection back
    caller.join(30)
    assert answers == ["完成"]


# --- every query parameter of every page, fuzzed ----------------------------------------------------

#: the modules that define a blueprint (each feature's views)
VIEWS = [p for p in (Path(__file__).resolve().parent.parent / "reporting").rglob("*.py") if "Blueprint(" in p.read_text()]
#: the query parameters the views read, found in their source, and the audit filter's fields
QUERY_NAMES = sorted(set(re.findall(r'(?:request\.args\.get|id_arg)\("(\w+)"',
                                    "".join(p.read_text() for p in VIEWS)))
                     | {name for name, field in vars(AuditFilterForm).items() if hasattr(field, "field_class")})
ODD_VALUES = ["99999999999999999999", "-1", "0", "2147483648", "9" * 400, "9999-12-31", "0001-01-01",
              "2022-02-30", "99999-01-01", "abc", "", " ", "\x00", "1e5", "１２", "٣", "NaN", "/%09/evil.example"]
query_values = st.one_of(st.sampled_from(ODD_VALUES), st.integers().map(str), st.text(max_size=30),
                         st.dates().map(str))


@pytest.fixture
def site(client, auth, runner, jiangmen, frozen_now, tmp_path):
    """A campaign of 江门市 with one draft row, and its city admin signed in (who may open every page)."""
    frozen_now(dt.datetime(2022, 10, 20, 10, 0))
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
    db.session.commit()
    admin = make_user("admin", "city_admin", "4407")
    token = runner.invoke(args=["users", "token", "admin"]).stdout.strip().splitlines()[-1]
    auth.login("admin")
    village = db.session.scalars(descendants_at(region_by_code("440705"), "village")
                                 .with_only_columns(Region.code).order_by(Region.code)).first()
    department = add_department(campaign, "市民政局", ["hardship_should", "hardship_enrolled"])
    item = supervision.create(admin, campaign.periods[0], kind="order", matter="逾期未报送", due=dt.date(2022, 10, 15),
                              region=region_by_code(village))
    client.application.config["SUPERVISION_FILES"] = str(tmp_path / "supervision")
    attachment = supervision.respond(item, admin, "整改", attachments=[("整改.PDF", b"%PDF-1.4")],
                                     folder=str(tmp_path / "supervision")).attachments[0]
    db.session.commit()
    path_values = {"item_id": item.id, "attachment_id": attachment.id, "code": "440705", "region_code": "440705", "period_id": campaign.periods[0].id,
                   "campaign_id": campaign.id, "user_id": admin.id, "circular_id": 1, "filename": "app.css",
                   "unit_code": village, "department_id": department.id}
    routes = sorted(rule.rule for rule in client.application.url_map.iter_rules() if "GET" in rule.methods)
    urls = []
    for rule in routes:
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(path_values[m.group(1)]), rule)
        urls.append(url)
    return urls, {"Authorization": f"Bearer {token}"}


def test_query_names_are_found(site):
    assert {"period", "region", "measure", "sort", "dir", "user", "next", "since", "until", "kind"} <= set(QUERY_NAMES)


def test_out_of_range_numbers_and_dates_are_404_or_422_on_every_page(client, site):
    urls, headers = site
    for url in urls:
        for value in ("99999999999999999999", "9999-12-31"):
            query = urlencode({name: value for name in QUERY_NAMES})
            with client.get(f"{url}?{query}", headers=headers) as answer:
                assert answer.status_code < 500, f"{url}?{query}: {answer.status_code}"


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pick=st.integers(min_value=0, max_value=10 ** 6),
       query=st.dictionaries(st.sampled_from(QUERY_NAMES), query_values, min_size=1, max_size=4),
       htmx=st.booleans())
def test_every_query_parameter_of_every_page_is_fuzzed(client, site, pick, query, htmx):
    urls, headers = site
    url = urls[pick % len(urls)]
    with client.get(f"{url}?{urlencode(query)}", headers={**headers, **(HX if htmx else {})}) as answer:
        assert answer.status_code < 500, f"{url}?{urlencode(query)}: {answer.status_code}"
    db.session.rollback()


# --- account probing by timing --------------------------------------------------------------------

def test_an_unknown_or_disabled_name_costs_the_same_hash_as_a_known_one(client, auth, jiangmen, monkeypatch):
    """The time a login takes is the password hash's; every wrong login must pay it once."""
    from reporting.models import User
    disabled = make_user("gone", "county_filer", "440705")
    disabled.active = False
    make_user("xinhui", "county_filer", "440705")
    db.session.commit()
    checked = []
    real = User.check_password
    monkeypatch.setattr(User, "check_password", lambda self, password: checked.append(password) or
                        real(self, password))
    for name in ("xinhui", "nobody-here", "gone"):
        checked.clear()
        assert "用户名或密码错误" in auth.login(name, "wrong-password-1").get_data(as_text=True)
        assert checked == ["wrong-password-1"], name


# --- drafts of circulars ----------------------------------------------------------------------------

def test_a_draft_circular_is_for_its_authors_level_only(client, auth, anhui, frozen_now):
    from reporting.circulars.circulars import new_draft
    frozen_now(dt.datetime(2022, 10, 20, 9, 0))
    city = region_by_code("3413")
    campaign, _ = create_campaign(name="宿州市2023年度", root=city, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1),
                                  report_level="township")
    author = make_user("admin", "city_admin", "3413")
    draft = new_draft(campaign.periods[0], city, author)
    draft.title = "尚未印发的草稿标题"
    db.session.commit()
    make_user("leader", "viewer", "3413")
    make_user("province", "city_admin", "34")  # an admin above, who did not write it
    urls = [f"/circulars/{draft.id}", f"/circulars/{draft.id}/print", f"/circulars/{draft.id}.pdf",
            f"/circulars/{draft.id}/edit"]
    for name in ("leader", "province"):
        auth.logout()
        auth.login(name)
        assert [client.get(url).status_code for url in urls] == [403] * 4, name
        assert "尚未印发的草稿标题" not in client.get("/circulars/").get_data(as_text=True)
    auth.logout()
    auth.login("admin")
    assert client.get(f"/circulars/{draft.id}/print").status_code == 200
    assert "尚未印发的草稿标题" in client.get("/circulars/").get_data(as_text=True)


# --- bounded free text ------------------------------------------------------------------------------

FULL = {"population": 3000, "should_enroll": 2600, "enrolled": 2000, "hardship_should": 80,
        "hardship_enrolled": 80, "students_enrolled": 400, "newborns_enrolled": 20, "college_enrolled": 0}
FILER = {"name": "黄丽华", "phone": "13802216103", "head": "张局长"}


def test_a_reason_has_one_length_limit_on_every_path(client, auth, runner, jiangmen, frozen_now, tmp_path):
    from reporting.filing.filing import import_reports
    from reporting.models import AuditEntry, Report, Revision
    from reporting.validation import REASON_LIMIT
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
    period = campaign.periods[0]
    make_user("xinhui", "county_filer", "440705")
    units = db.session.scalars(descendants_at(region_by_code("440705"), "village")
                               .with_only_columns(Region.code).order_by(Region.code)).all()
    import_reports(period, [(1, units[0], FULL, FILER)], submit=True)
    db.session.commit()
    token = runner.invoke(args=["users", "token", "xinhui"]).stdout.strip().splitlines()[-1]
    auth.login("xinhui")
    revisions = db.session.scalar(select(func.count(Revision.id)))
    huge = "因" * 1_000_000
    fits = "因" * REASON_LIMIT

    api = client.put(f"/api/v1/reports/{units[0]}/{period.id}", headers={"Authorization": f"Bearer {token}"},
                     json={"values": {"enrolled": 2100}, "filer": FILER, "submit": True, "reason": huge})
    assert api.status_code == 422
    assert any(e["field"] == "reason" and "最多500字" in e["message"] for e in api.get_json()["errors"])
    row = client.post(f"/filing/{period.id}/440705/units/{units[0]}", headers=HX,
                      data={"enrolled": "2100", "revision": "1", "reason": huge})
    assert "修改原因过长" in row.get_data(as_text=True)
    csv_file = tmp_path / "import.csv"
    csv_file.write_text(f"单位代码,enrolled\n{units[0]},2100\n", encoding="utf-8")
    cli = runner.invoke(args=["reports", "import", str(period.id), str(csv_file), "--reason", huge])
    assert cli.exit_code != 0 and "修改原因过长" in cli.output
    assert db.session.scalar(select(func.count(Revision.id))) == revisions  # nothing of it was stored

    accepted = client.put(f"/api/v1/reports/{units[0]}/{period.id}", headers={"Authorization": f"Bearer {token}"},
                          json={"values": {"enrolled": 2100}, "filer": FILER, "submit": True, "reason": fits})
    assert accepted.status_code == 200
    assert db.session.scalar(select(Revision.reason).order_by(Revision.id.desc()).limit(1)) == fits
    largest = max(len(str(e.before or "")) + len(str(e.after or "")) for e in db.session.scalars(select(AuditEntry)))
    assert largest < 2 * REASON_LIMIT + 1000  # an entry keeps its reason, and nothing much beside it
    assert db.session.scalar(select(Report.v3).where(Report.period_id == period.id).limit(1)) == 2100


# --- bounded uploads --------------------------------------------------------------------------------

def workbook(rows: int, names: bool, first: int = 440705000000) -> bytes:
    """A workbook of the grid's header and `rows` unit rows; codes as numbers from `first`, names
    as text or not."""
    import io

    from openpyxl import Workbook
    book = Workbook(write_only=True)
    sheet = book.create_sheet("进度表")
    sheet.append(["单位代码", "单位名称", "常住人口数", "居民医保应参保人数", "居民医保已参保人数",
                  "困难群众应参保人数", "困难群众已参保人数", "中小学生及在园幼儿已参保人数", "新生儿已参保人数",
                  "大学生参保人数"])
    for n in range(rows):
        sheet.append([first + n, f"第{n}村" if names else None, 3000, 2600, 2000, 80, 80, 400, 20, 0])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_workbook_far_longer_than_the_form_is_refused_before_it_is_read(monkeypatch):
    from reporting.filing import progress_workbook
    from reporting.filing.progress_workbook import Column, read_progress_form
    from reporting.spreadsheets import TableError
    columns = [Column("population", "常住人口数", None), Column("should_enroll", "居民医保应参保人数", None),
               Column("enrolled", "居民医保已参保人数", None)]
    read = []
    numbered = progress_workbook._numbered
    monkeypatch.setattr(progress_workbook, "_numbered", lambda rows: (read.append(r) or r for r in numbered(rows)))
    with pytest.raises(TableError, match="表中的行数超过402行"):
        read_progress_form(workbook(20_000, names=False), columns, max_rows=402)
    assert len(read) <= 403  # it stopped there, not at row 20,001
    # a shared-strings part (read whole before the first row) far beyond the cap is refused unread
    big = io.BytesIO()
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", "<sst>" + "<si><t>村</t></si>" * 200_000 + "</sst>")
    read.clear()
    with pytest.raises(TableError, match="表中的行数超过402行"):
        read_progress_form(big.getvalue(), columns, max_rows=402)
    assert read == []
    assert len(read_progress_form(workbook(300, names=True), columns, max_rows=402).rows) == 300


def test_an_upload_is_capped_by_the_units_of_its_region(client, auth, jiangmen, frozen_now):
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
    make_user("xinhui", "county_filer", "440705")  # 新会区: 242 villages, so 242 + 60 + 100 rows
    auth.login("xinhui")
    answer = client.post(f"/filing/{campaign.periods[0].id}/440705/upload",
                         data={"workbook": (io.BytesIO(workbook(5_000, names=False)), "进度表.xlsx")},
                         content_type="multipart/form-data")
    assert answer.status_code == 422 and "表中的行数超过402行" in answer.get_data(as_text=True)


# --- the CLI's CSV import ---------------------------------------------------------------------------

@pytest.fixture
def draft_period(jiangmen, frozen_now):
    """新会区's first village with a complete stored draft."""
    from reporting.filing.filing import import_reports
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
    unit = db.session.scalars(descendants_at(region_by_code("440705"), "village")
                              .with_only_columns(Region.code).order_by(Region.code)).first()
    import_reports(campaign.periods[0], [(1, unit, FULL, {})], submit=False)
    db.session.commit()
    return campaign.periods[0], unit


def stored_values(period, code):
    from reporting.models import Report
    db.session.rollback()
    report = db.session.scalar(select(Report).where(Report.region_id == region_by_code(code).id))
    return report.values(period.campaign.indicators)


HEADER = "单位代码,population,should_enroll,enrolled"


@pytest.mark.parametrize("last_line, says", [
    ("{unit},3100,2700", "第2行：有3格，表头有4格"),  # short: would blank 已参保人数
    ('{unit},3100,2700,"2100', "第2行格式错误：引号未配对"),
    ("{unit},3100,2700,2100,9", "第2行：有5格，表头有4格"),
])
def test_a_row_of_the_wrong_width_is_an_error_naming_it(runner, draft_period, tmp_path, last_line, says):
    period, unit = draft_period
    path = tmp_path / "import.csv"
    path.write_text(f"{HEADER}\n{last_line.format(unit=unit)}\n", encoding="utf-8")
    answer = runner.invoke(args=["reports", "import", str(period.id), str(path)])
    assert answer.exit_code != 0 and says in answer.output
    assert stored_values(period, unit) == FULL  # the stored draft keeps every column


@pytest.mark.parametrize("cell, count", [
    ("2,100", 2100), ("1,234,567", 1234567), ("２１００", 2100), ("２，１００", 2100), ("2100", 2100),
    ("1000,900,500", None), ("21,00", None), (",2100", None), ("2100,", None), ("١٢٣", None), ("𝟏𝟐𝟑", None),
])
def test_thousands_separators_only_in_place_and_full_width_digits(runner, draft_period, tmp_path, cell, count):
    period, unit = draft_period
    path = tmp_path / "import.csv"
    path.write_text(f'{HEADER}\n{unit},3100,2700,"{cell}"\n', encoding="utf-8")
    answer = runner.invoke(args=["reports", "import", str(period.id), str(path)])
    if count is None:
        assert answer.exit_code != 0 and "不是整数" in answer.output
        assert stored_values(period, unit)["enrolled"] == FULL["enrolled"]
    else:
        assert answer.exit_code == 0, answer.output
        assert stored_values(period, unit)["enrolled"] == count


# --- API tokens and passwords -----------------------------------------------------------------------

def test_a_password_change_or_reset_revokes_the_api_tokens(client, auth, runner, jiangmen):
    user = make_user("xinhui", "county_filer", "440705")
    make_user("admin", "city_admin", "4407")

    def token() -> dict:
        return {"Authorization": "Bearer " + runner.invoke(args=["users", "token", "xinhui"]).stdout.strip()
                .splitlines()[-1]}
    own = token()
    assert client.get("/api/v1/regions/440705", headers=own).status_code == 200
    auth.login("xinhui")
    changed = client.post("/account/password", data={"current": "correct-horse-battery",
                                                     "password": "Huang-医保-填报-2026", "confirm": "Huang-医保-填报-2026"})
    assert changed.status_code == 303
    assert client.get("/api/v1/regions/440705", headers=own).status_code == 401
    again = token()
    assert client.get("/api/v1/regions/440705", headers=again).status_code == 200
    auth.login("admin")
    client.post(f"/admin/users/{user.id}/password", data={"reset-password": "Huang-医保-重置-2026"})
    assert client.get("/api/v1/regions/440705", headers=again).status_code == 401


# --- no English on the pages ------------------------------------------------------------------------

#: Latin words a page may show: names of formats and programs, and the test's own user names
LATIN_ALLOWED = {"API", "PDF", "Excel", "WPS", "xlsx", "XLSX", "csv", "CSV", "admin", "xinhui", "Bearer",
                 "Authorization", "Chrome", "Firefox", "Edge", "Safari", "HTTP", "JSON", "UTF", "GBK",
                 "Enter", "Tab", "Shift", "Ctrl",  # keys of the keyboard, as printed on them
                 "Werkzeug",  # the test client's User-Agent, listed on the account page
                 "KB", "MB"}  # sizes of files, as Chinese pages print them


def english_on(html: str) -> set[str]:
    """Latin words in what a reader sees: the text, placeholders, titles and labels of a page."""
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    attributes = " ".join(re.findall(r'(?:placeholder|title|aria-label|alt)="([^"]*)"', html))
    text = re.sub(r"(?s)<[^>]+>", " ", html)
    return {w for w in re.findall(r"[A-Za-z]{2,}", text + " " + attributes) if w not in LATIN_ALLOWED}


def test_no_english_in_rendered_pages(client, auth, site, jiangmen):
    from reporting.circulars.circulars import new_draft
    from reporting.models import Period, User
    urls, _ = site
    leaks = {}
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    period = db.session.scalar(select(Period).order_by(Period.id))
    draft = new_draft(period, region_by_code("4407"), admin)
    db.session.commit()
    pages = [u for u in urls if not u.startswith(("/api/", "/static/")) and not u.endswith((".xlsx", ".pdf"))]
    pages += [f"/circulars/{draft.id}/edit"]
    for url in pages:
        with client.get(url, follow_redirects=True) as answer:
            if answer.mimetype == "text/html":
                leaks[url] = english_on(answer.get_data(as_text=True))
    # the messages of refused forms: a WTForms length limit, a reason too long in an upload
    edit = client.post(f"/circulars/{draft.id}/edit", data={"title": "长" * 400, "body": "正文", "issuer": "x" * 200,
                                                              "prefix": "江医保", "addressee": "各县",
                                                              "printed_by": "办公室"})
    assert edit.status_code == 422
    leaks["circular edit, too long"] = english_on(edit.get_data(as_text=True))
    from reporting.filing.filing import import_reports
    make_user("xinhui", "county_filer", "440705")
    auth.login("xinhui")
    unit = db.session.scalars(descendants_at(region_by_code("440705"), "village")
                              .with_only_columns(Region.code).order_by(Region.code)).first()
    import_reports(period, [(1, unit, {**FULL, "enrolled": 1900}, FILER)], submit=True)
    db.session.commit()
    for reason, case in (("因" * 600, "upload, reason too long"), ("", "upload, correction without a reason")):
        upload = client.post(f"/filing/{period.id}/440705/upload", content_type="multipart/form-data",
                             data={"workbook": (io.BytesIO(workbook(1, names=True, first=int(unit))), "进度表.xlsx"),
                                   "reason": reason})
        assert upload.status_code == 422 and ("修改原因" in upload.get_data(as_text=True))
        leaks[case] = english_on(upload.get_data(as_text=True))
    assert {url: words for url, words in leaks.items() if words} == {}


def test_command_line_free_text_has_the_forms_limits(runner, jiangmen):
    from reporting.models import Campaign, User
    long_name = runner.invoke(args=["users", "create", "xinhui", "--role", "county_filer", "--region", "440705",
                                    "--name", "长" * 60])
    assert long_name.exit_code != 0 and "姓名过长（60字，最多50字）" in long_name.output
    long_campaign = runner.invoke(args=["campaign", "create", "--name", "年" * 300, "--root", "4407",
                                        "--start", "2022-09-01", "--end", "2022-12-31"])
    assert long_campaign.exit_code != 0 and "征缴期名称过长" in long_campaign.output
    assert db.session.scalar(select(func.count(User.id))) == 0
    assert db.session.scalar(select(func.count(Campaign.id))) == 0
