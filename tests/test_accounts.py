"""Accounts, scope checks, and the API's regions and periods with bearer tokens."""
import datetime as dt

import pytest

from reporting import access
from reporting.campaigns.campaigns import create_campaign
from reporting.extensions import db
from reporting.models import ApiToken
from reporting.regions.hierarchy import descendants_at, region_by_code

from .conftest import bearer, make_user, token_for


def test_scope_is_the_users_subtree(jiangmen):
    filer = make_user("xinhui", "county_filer", "440705")
    viewer = make_user("boss", "viewer", "4407")
    village = db.session.scalars(descendants_at(filer.region, "village")).first()
    assert access.can_file(filer, village)
    assert not access.can_view(filer, region_by_code("440703"))
    assert not access.can_view(filer, jiangmen)  # not even its own parent
    assert access.can_view(viewer, village) and not access.can_file(viewer, village)


def test_passwords_are_hashed_with_argon2id_at_owasp_parameters(jiangmen):
    user = make_user("a", "viewer", "4407", password="correct-horse-battery")
    assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "correct-horse" not in user.password_hash
    assert user.check_password("correct-horse-battery") and not user.check_password("wrong")


def test_cli_users_create_and_token(runner, jiangmen):
    result = runner.invoke(args=["users", "create", "jm", "--role", "city_admin", "--region", "4407"])
    assert result.exit_code == 0 and "初始密码" in result.output
    token = token_for(runner, "jm")
    stored = db.session.scalar(db.select(ApiToken))
    assert stored.digest == ApiToken.hash(token) and token not in stored.digest
    duplicate = runner.invoke(args=["users", "create", "jm", "--role", "viewer", "--region", "4407"])
    assert duplicate.exit_code != 0 and "已存在" in duplicate.output
    bad_region = runner.invoke(args=["users", "create", "x", "--role", "viewer", "--region", "12"])
    assert bad_region.exit_code != 0 and "12" in bad_region.output


def test_api_region_with_children(client, runner, jiangmen):
    make_user("xinhui", "county_filer", "440705")
    token = token_for(runner, "xinhui")
    answer = client.get("/api/v1/regions/440705", headers=bearer(token))
    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["code"], body["name"], body["level"], body["parent_code"]) == ("440705", "新会区", "county", "4407")
    assert all(c["level"] == "township" and c["code"].startswith("440705") for c in body["children"])
    assert len(body["children"]) > 5


@pytest.mark.parametrize("headers, status", [
    ({}, 401), ({"Authorization": "Bearer nonsense"}, 401), ({"Authorization": "Basic abc"}, 401),
])
def test_api_without_a_valid_token_is_401(client, jiangmen, headers, status):
    answer = client.get("/api/v1/regions/4407", headers=headers)
    assert answer.status_code == status
    assert answer.get_json()["errors"][0]["message"]
    assert "新会区" not in answer.get_data(as_text=True)


def test_api_outside_the_subtree_is_403_without_data(client, runner, jiangmen):
    make_user("xinhui", "county_filer", "440705")
    token = token_for(runner, "xinhui")
    for code in ("440703", "4407", "44"):
        answer = client.get(f"/api/v1/regions/{code}", headers=bearer(token))
        assert answer.status_code == 403
        assert "children" not in answer.get_json()
    assert client.get("/api/v1/regions/999999", headers=bearer(token)).status_code == 404


def test_api_revoked_token_is_401(client, runner, jiangmen):
    make_user("boss", "viewer", "4407")
    token = token_for(runner, "boss")
    db.session.scalar(db.select(ApiToken)).revoked_at = dt.datetime(2022, 1, 1)
    db.session.commit()
    assert client.get("/api/v1/regions/4407", headers=bearer(token)).status_code == 401


def test_api_periods_with_shifted_dues(client, runner, jiangmen):
    campaign, _ = create_campaign(name="2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), extend_to=dt.date(2023, 2, 28),
                                  first_due=dt.date(2022, 10, 1))
    db.session.commit()
    make_user("xinhui", "county_filer", "440705")
    answer = client.get(f"/api/v1/campaigns/{campaign.id}/periods", headers=bearer(token_for(runner, "xinhui")))
    periods = answer.get_json()
    assert periods[0] == {"id": campaign.periods[0].id, "label": "第1期（截至9月30日）",
                          "as_of": "2022-09-30", "due": "2022-10-08"}
    assert {"as_of": "2022-12-31", "due": "2023-01-03"}.items() <= periods[6].items()
    assert client.get("/api/v1/campaigns/999/periods", headers=bearer(token_for(runner, "xinhui"))).status_code == 404


def test_api_periods_of_a_campaign_elsewhere_is_403(client, runner, jiangmen, anhui):
    campaign, _ = create_campaign(name="朱集镇", root=anhui, start=dt.date(2022, 9, 1), end=dt.date(2022, 12, 31))
    db.session.commit()
    make_user("xinhui", "county_filer", "440705")
    answer = client.get(f"/api/v1/campaigns/{campaign.id}/periods", headers=bearer(token_for(runner, "xinhui")))
    assert answer.status_code == 403
