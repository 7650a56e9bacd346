"""The supervision dashboard, its sorting, the reminder list, the export, and GET /api/v1/progress."""
import io

import pytest
from openpyxl import load_workbook

from .conftest import make_user

HX = {"HX-Request": "true"}


@pytest.fixture
def demo(demo, auth):
    """The demo, signed in as the city's administrator."""
    auth.login("jm_admin", "jiangmen-admin-2026")
    return demo


def test_dashboard_full_page_and_sorted_fragment(client, demo):
    period = demo.periods[3]
    page = client.get(f"/dashboard/4407?period={period.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and "江门市各地进度排名" in html
    assert "已报 1,348/1,348" in html and "序时进度" in html
    assert 'hx-trigger="load"' in html and f"/dashboard/4407/charts?period={period.id}" in html
    charts = client.get(f"/dashboard/4407/charts?period={period.id}", headers=HX).get_data(as_text=True)
    assert "<html" not in charts and charts.count("<svg") == 2 and "江门市累计参保进度" in charts  # inline SVG
    with_charts = client.get(f"/dashboard/4407/charts?period={period.id}").get_data(as_text=True)
    assert "<html" in with_charts and "<svg" in with_charts and "江门市各地进度排名" in with_charts
    fragment = client.get(f"/dashboard/4407?period={period.id}&sort=completion&dir=asc", headers=HX)
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and body.lstrip().startswith('<section id="ranking"')
    assert "HX-Request" in fragment.headers["Vary"]
    order = [name for name in ("恩平市", "台山市", "新会区") if name in body]
    assert body.index("恩平市") < body.index("台山市") < body.index("江海区")  # slowest first
    assert order


def test_status_board_shows_late_and_missing(client, demo):
    third = demo.periods[2]
    html = client.get(f"/dashboard/4407?period={third.id}").get_data(as_text=True)
    assert "逾期未报" in html  # 鹤山市 never filed period 3
    assert "迟报" in html  # 台山市 filed period 3 late


def test_missing_list_names_whom_to_call(client, demo):
    current = demo.periods[4]
    fragment = client.get(f"/dashboard/4407/missing?period={current.id}", headers=HX).get_data(as_text=True)
    assert "<html" not in fragment
    assert "鹤山市" in fragment and "吴秀英" in fragment and "13802216106" in fragment
    assert "蓬江区" not in fragment  # it has submitted
    page = client.get(f"/dashboard/4407/missing?period={current.id}").get_data(as_text=True)
    assert "<html" in page and "鹤山市" in page


def test_drill_down_and_breadcrumb(client, demo):
    html = client.get("/dashboard/440785").get_data(as_text=True)
    assert 'href="/dashboard/4407' in html and "恩平市各地进度排名" in html


def test_export_ranking_workbook_in_the_shown_order(client, demo):
    period = demo.periods[3]
    answer = client.get(f"/dashboard/4407/ranking.xlsx?period={period.id}&sort=completion&dir=asc")
    sheet = load_workbook(io.BytesIO(answer.data)).active
    assert "参保进度排名表" in sheet["A1"].value
    assert [c.value for c in sheet[3]][:3] == ["排名", "单位代码", "单位"]
    names = [sheet.cell(row, 3).value for row in range(4, 11)]
    assert names[0] == "恩平市" and sheet.cell(11, 3).value == "合计"


def test_county_filer_sees_only_own_county(client, auth, demo):
    auth.logout()
    make_user("xinhui", "county_filer", "440705")
    auth.login("xinhui")
    assert client.get("/dashboard/4407").status_code == 403
    assert client.get("/dashboard/440703").status_code == 403
    assert client.get("/dashboard/4407/ranking.xlsx").status_code == 403
    assert client.get("/dashboard/440705").status_code == 200


def test_progress_api(client, runner, demo):
    make_user("boss", "viewer", "4407")
    token = runner.invoke(args=["users", "token", "boss"]).stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    period = demo.periods[2]
    body = client.get(f"/api/v1/progress/4407?period={period.id}&measure=rate", headers=headers).get_json()
    children = {c["name"]: c for c in body["children"]}
    assert children["鹤山市"]["late"] == "missing" and children["台山市"]["late"] == "late"
    assert body["region"]["late"] == "missing"
    ranks = [c["rank"] for c in body["children"]]
    assert ranks == sorted(ranks)
    rates = [c["rate"] for c in body["children"] if c["late"] != "missing"]
    assert rates == sorted(rates, reverse=True)
    # 鹤山市 never filed period 3: it ranks last, counted with its period-2 figures (沿用第2期)
    assert body["children"][-1]["name"] == "鹤山市" and children["鹤山市"]["carried_from"] == demo.periods[1].id
    assert body["region"]["carried"] == children["鹤山市"]["carried"] > 0
    assert 0 < body["region"]["rate"] < 1 and body["region"]["light"] in ("green", "yellow", "red")
    assert client.get("/api/v1/progress/4407?measure=bogus", headers=headers).status_code == 400
    make_user("xinhui", "county_filer", "440705")
    other = runner.invoke(args=["users", "token", "xinhui"]).stdout.strip().splitlines()[-1]
    assert client.get("/api/v1/progress/4407", headers={"Authorization": f"Bearer {other}"}).status_code == 403
