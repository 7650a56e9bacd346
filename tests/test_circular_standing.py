"""A county's standing on a 通报's page: 预警 means the 约谈 warning only, the forecast says
预计无法按期完成, and 无 is printed only when nothing is flagged."""
import copy

from reporting.circulars import issue, new_draft
from reporting.extensions import db
from reporting.hierarchy import region_by_code

from .test_review_web import XINHUI, filed, user  # noqa: F401  (filed is a fixture)


def flags(page: str) -> str:
    part = page[page.index("<dt>提示</dt>"):]
    return part[:part.index("</dd>")]


def test_the_forecast_is_not_called_a_warning_and_never_followed_by_none(filed, client, auth):
    campaign, period = filed
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
