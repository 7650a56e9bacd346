"""A county's standing on a 通报's page: 预警 means the 约谈 warning only, the forecast says
预计无法按期完成, and 无 is printed only when nothing is flagged."""
import copy

from reporting.circulars.circulars import issue, new_draft
from reporting.extensions import db
from reporting.regions.hierarchy import region_by_code

from .fixtures.review import XINHUI, user


def flags(page: str) -> str:
    part = page[page.index("<dt>提示</dt>"):]
    return part[:part.index("</dd>")]


def test_the_forecast_is_not_called_a_warning_and_never_followed_by_none(first_period_filed, client, auth):
    campaign, period = first_period_filed
    circular = issue(new_draft(period, region_by_code("4407"), user("admin")), user("admin"))
    db.session.commit()
    auth.login("xinhui")

    def standing_with(**figures):
        snapshot = copy.deepcopy(circular.snapshot)
        for row in snapshot["children"]:
            if row.get("code") == XINHUI:
                row.update(figures)
        circular.snapshot = snapshot
        db.session.commit()
        return flags(client.get(f"/circulars/{circular.id}").get_data(as_text=True))

    calm = dict(hardship_gap=0, light="green", interview=False, interview_warning=False)
    shown = standing_with(projected_completion=0.8, **calm)
    assert "预计无法按期完成" in shown and "预警" not in shown and not shown.endswith("无")
    assert standing_with(projected_completion=1.2, **calm).endswith("<dd>无")
    assert "约谈预警" in standing_with(projected_completion=1.2, **{**calm, "interview_warning": True})


def test_a_circular_is_named_by_its_number_and_its_data_not_its_serial(first_period_filed, client, auth, frozen_now):
    import datetime as dt
    campaign, period = first_period_filed
    second = campaign.periods[1]
    frozen_now(dt.datetime(2022, 10, 20, 9, 0))
    circular = issue(new_draft(second, region_by_code("4407"), user("admin")), user("admin"))
    db.session.commit()
    as_of = second.as_of
    named = f"{second.label}，数据截至{as_of.month}月{as_of.day}日"
    auth.login("xinhui")
    for url in ("/", "/circulars/", f"/circulars/{circular.id}"):
        page = client.get(url).get_data(as_text=True)
        assert named in page and circular.doc_number in page, url
        assert "（第1期）" not in page, url  # the circular's serial beside period 2's data
