"""The reviewer sees what they approve: each unit's counts, rate, change since the last period and
warnings on /review/{code}, filters for units with warnings and resubmissions, in few queries."""

from sqlalchemy import event

from reporting.extensions import db

from .conftest import make_user
from .fixtures.review import XINHUI


def row_of(page, code):
    row = page[page.index(f'id="r-{code}"'):]
    return row[:row.index("</tr>")]


def test_each_unit_shows_its_figures_change_and_warnings(second_period_filed, client, auth):
    second, units = second_period_filed
    auth.login("admin")
    seen = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        page = client.get(f"/review/{XINHUI}?period={second.id}").get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    fell, gained = row_of(page, units[0]), row_of(page, units[1])
    assert "2,600" in fell and "1,900" in fell and "73.08%" in fell and "-3.85个百分点" in fell
    assert "已参保人数比上期减少100人" in fell
    assert "2,100" in gained and "+3.85个百分点" in gained and "减少" not in gained
    assert len(seen) < 40, len(seen)  # a county's 242 units: a handful of queries, not one per unit


def test_filters_keep_the_units_with_warnings_or_resubmitted(second_period_filed, client, auth):
    second, units = second_period_filed
    auth.login("admin")
    client.post(f"/review/{XINHUI}/{second.id}/units/{units[2]}", data={"action": "return", "reason": "请核实"})
    auth.logout()
    make_user("xinhui", "county_filer", XINHUI)
    auth.login("xinhui")
    client.post(f"/filing/{second.id}/{XINHUI}/units/{units[2]}", data={"enrolled": "2060"},
                headers={"HX-Request": "true"})
    client.post(f"/filing/{second.id}/{XINHUI}/units/{units[2]}/resubmit")
    auth.logout()
    auth.login("admin")
    warned = client.get(f"/review/{XINHUI}?period={second.id}&only=warnings").get_data(as_text=True)
    assert f'id="r-{units[0]}"' in warned and f'id="r-{units[1]}"' not in warned
    again = client.get(f"/review/{XINHUI}?period={second.id}&only=resubmitted").get_data(as_text=True)
    assert f'id="r-{units[2]}"' in again and f'id="r-{units[0]}"' not in again
    assert "<del>2,050</del> → <ins>2,060</ins>" in row_of(again, units[2])


def test_approving_all_names_the_count_it_will_approve(second_period_filed, client, auth):
    second, units = second_period_filed
    auth.login("admin")
    page = client.get(f"/review/{XINHUI}?period={second.id}").get_data(as_text=True)
    count = len(units)
    assert f'data-confirm="确定将新会区{count}个待审核单位全部审核通过？' in page
    assert f"全部审核通过（{count}个）" in page
