"""The warnings the form missed (DESIGN.md's rules), the same on the grid, the XLSX upload, the CLI and the API:
应参保 above 常住人口, 困难群众已参保 above 困难群众应参保, and a value far outside the unit's history or siblings."""
import datetime as dt
import io

import pytest

from reporting.campaigns.campaigns import create_campaign
from reporting.extensions import db
from reporting.filing.filing import import_reports
from reporting.indicators import DEFAULT_FORM
from reporting.models import Region
from reporting.regions.hierarchy import descendants_at, region_by_code
from reporting.validation import check, consistency_warnings, history_outliers, sibling_outliers

from .conftest import make_user

HX = {"HX-Request": "true"}
FILER = {"name": "黄丽华", "phone": "13802216103", "head": "张局长"}
FULL = {"population": 3000, "should_enroll": 2600, "enrolled": 2000, "hardship_should": 80,
        "hardship_enrolled": 80, "students_enrolled": 400, "newborns_enrolled": 20, "college_enrolled": 0}
LABELS = {key: label for key, label, _ in DEFAULT_FORM}
#: (changed values, words the warning must hold)
CASES = [
    ({"should_enroll": 3500}, "居民医保应参保人数（3,500）大于常住人口数（3,000）"),
    ({"hardship_enrolled": 90}, "困难群众已参保人数（90）大于困难群众应参保人数（80），困难群众名单可能已变动，请核实名单"),
    ({"population": 99_999_999, "should_enroll": 2600}, "常住人口数（99,999,999）远超同级单位（最高3,000）"),
]


def test_the_rules_themselves():
    assert consistency_warnings(LABELS, FULL) == []
    assert [w.field for w in consistency_warnings(LABELS, {**FULL, "should_enroll": 3001, "hardship_enrolled": 81})] \
        == ["should_enroll", "hardship_enrolled"]
    # ten times the last period and a thousand people more; or a tenth
    assert [w.field for w in history_outliers(LABELS, {**FULL, "population": 30_001}, FULL)] == ["population"]
    assert history_outliers(LABELS, {**FULL, "population": 29_999}, FULL) == []
    assert [w.field for w in history_outliers(LABELS, {**FULL, "population": 299}, FULL)] == ["population"]
    assert history_outliers(LABELS, {**FULL, "newborns_enrolled": 300}, FULL) == []  # small counts vary
    siblings = [FULL, {**FULL, "population": 2000}, {**FULL, "population": 2500}]
    assert [w.field for w in sibling_outliers(LABELS, {**FULL, "population": 99_999_999}, siblings)] == ["population"]
    assert sibling_outliers(LABELS, {**FULL, "population": 99_999_999}, siblings[:2]) == []  # too few to judge
    errors, warnings = check([], {}, FILER, submit=False)
    assert errors == warnings == []


@pytest.fixture
def county(client, runner, jiangmen, frozen_now):
    """新会区's villages, all with a draft of FULL, period 1 of 2022 (due 10月8日)."""
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    period = campaign.periods[0]
    villages = list(db.session.scalars(descendants_at(region_by_code("440705"), "village").order_by(Region.code)))
    import_reports(period, [(n, v.code, FULL, {}) for n, v in enumerate(villages)], submit=False)
    make_user("xinhui", "county_filer", "440705")
    db.session.commit()
    token = runner.invoke(args=["users", "token", "xinhui"]).stdout.strip().splitlines()[-1]
    return period, villages, {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("change, words", CASES)
def test_grid_cell(client, auth, county, change, words):
    period, villages, _ = county
    auth.login("xinhui")
    answer = client.post(f"/filing/{period.id}/440705/units/{villages[0].code}",
                         data={key: str(value) for key, value in change.items()} | {"revision": "1"}, headers=HX)
    assert answer.status_code == 200 and words in answer.get_data(as_text=True)


@pytest.mark.parametrize("change, words", CASES)
def test_api_put(client, county, change, words):
    period, villages, headers = county
    answer = client.put(f"/api/v1/reports/{villages[0].code}/{period.id}", headers=headers,
                        json={"values": {**FULL, **change}, "filer": FILER, "submit": True})
    assert answer.status_code == 200
    assert any(words in w["message"] for w in answer.get_json()["warnings"]), answer.get_json()["warnings"]


@pytest.mark.parametrize("change, words", CASES)
def test_cli_import(runner, county, tmp_path, change, words):
    period, villages, _ = county
    keys = list(FULL)
    lines = ["单位代码," + ",".join(keys)]
    for n, village in enumerate(villages):
        values = {**FULL, **(change if n == 3 else {})}
        lines.append(village.code + "," + ",".join(str(values[k]) for k in keys))
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(args=["reports", "import", str(period.id), str(path), "--submit"])
    assert result.exit_code == 0, result.output
    assert f"（{villages[3].code}）：{words}" in result.output


@pytest.mark.parametrize("change, words", CASES)
def test_xlsx_upload(client, auth, county, change, words):
    from openpyxl import load_workbook
    period, villages, _ = county
    auth.login("xinhui")
    grid = f"/filing/{period.id}/440705"
    book = load_workbook(io.BytesIO(client.get(f"{grid}/form.xlsx").data))
    sheet = book.active
    row = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 1).value == villages[0].code)
    columns = {sheet.cell(r, c).value: c for r in range(1, 6) for c in range(1, sheet.max_column + 1)
               if sheet.cell(r, c).value}
    for key, value in change.items():
        column = next(c for heading, c in columns.items() if str(heading).replace("\n", "").endswith(LABELS[key]))
        sheet.cell(row, column).value = value
    out = io.BytesIO()
    book.save(out)
    answer = client.post(f"{grid}/upload", data={"workbook": (io.BytesIO(out.getvalue()), "form.xlsx")},
                         content_type="multipart/form-data", follow_redirects=True)
    assert answer.status_code == 200 and words in answer.get_data(as_text=True)


def test_history_outlier_on_the_api(client, county, frozen_now):
    period, villages, headers = county
    client.put(f"/api/v1/reports/{villages[0].code}/{period.id}", headers=headers,
               json={"values": FULL, "filer": FILER, "submit": True})
    second = period.campaign.periods[1]
    frozen_now(dt.datetime(2022, 10, 14, 10, 0))
    answer = client.put(f"/api/v1/reports/{villages[0].code}/{second.id}", headers=headers,
                        json={"values": {**FULL, "enrolled": 25_000, "population": 30_000, "should_enroll": 26_000},
                              "filer": FILER, "submit": True})
    messages = [w["message"] for w in answer.get_json()["warnings"]]
    assert any("居民医保已参保人数（25,000）与本单位上期（2,000）相差过大" in m for m in messages), messages


def test_an_imports_jump_warnings_equal_the_row_by_row_verdict():
    """The bulk import finds each unit's siblings' median by position in one sorted list; it must
    give the very warnings jump_warning gives each row against the others' increases."""
    import random

    from reporting.filing.filing import PlannedRow, _jump_warnings
    from reporting.validation import jump_warning
    rng = random.Random(20261130)
    warned = 0
    for trial in range(300):
        planned, previous, expected = [], {}, []
        for parent in range(rng.randint(1, 4)):
            size = rng.randint(1, 9)
            for n in range(size):
                region_id = parent * 100 + n
                before = rng.randint(0, 3000)
                gain = rng.choice([0, -5, rng.randint(1, 60), rng.randint(1, 60), rng.randint(200, 900)])
                planned.append(PlannedRow(region_id, parent, f"{region_id:012d}", region_id, None, {},
                                          {"enrolled": before + gain}, {}, False, True))
                previous[region_id] = {"enrolled": before}
        for row in planned:
            own = row.merged["enrolled"] - previous[row.region_id]["enrolled"]
            others = [r.merged["enrolled"] - previous[r.region_id]["enrolled"] for r in planned
                      if r.parent_id == row.parent_id and r is not row]
            message = jump_warning(own, others)
            if message:
                expected.append((row.code, message))
        found = [(w.code, w.message) for w in _jump_warnings(planned, previous)]
        assert sorted(found) == sorted(expected), trial
        warned += len(found)
    assert warned > 100  # the trials do reach the warning, often
