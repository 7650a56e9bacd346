"""Hardening: the defects a hostile probe found, each pinned by a test that failed before its fix."""
from __future__ import annotations

import datetime as dt
import re
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from forms.admin import AuditFilterForm
from reporting.campaigns import create_campaign
from reporting.extensions import db
from reporting.hierarchy import descendants_at, region_by_code
from reporting.models import Region

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

VIEWS = Path(__file__).resolve().parent.parent / "reporting" / "views"
#: the query parameters the views read, found in their source, and the audit filter's fields
QUERY_NAMES = sorted(set(re.findall(r'(?:request\.args\.get|id_arg)\("(\w+)"',
                                    "".join(p.read_text() for p in VIEWS.glob("*.py"))))
                     | {name for name, field in vars(AuditFilterForm).items() if hasattr(field, "field_class")})
ODD_VALUES = ["99999999999999999999", "-1", "0", "2147483648", "9" * 400, "9999-12-31", "0001-01-01",
              "2022-02-30", "99999-01-01", "abc", "", " ", "\x00", "1e5", "１２", "٣", "NaN", "/%09/evil.example"]
query_values = st.one_of(st.sampled_from(ODD_VALUES), st.integers().map(str), st.text(max_size=30),
                         st.dates().map(str))


@pytest.fixture
def site(client, auth, runner, jiangmen, frozen_now):
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
    path_values = {"code": "440705", "region_code": "440705", "period_id": campaign.periods[0].id,
                   "campaign_id": campaign.id, "user_id": admin.id, "circular_id": 1, "filename": "app.css",
                   "unit_code": village}
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
