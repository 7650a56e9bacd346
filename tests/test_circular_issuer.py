"""The words that depend on the issuing body: the scope word from the region's own name, 主送 from
the children it has, and a 机关代字 of its own with serials counted per 机关代字 and year."""
import datetime as dt

import pytest

from reporting.campaigns.campaigns import create_campaign
from reporting.circulars.circulars import issue, new_draft
from reporting.departments.departments import add_department
from reporting.extensions import db
from reporting.models import Region
from reporting.regions.hierarchy import region_by_code
from reporting.regions.issuers import check_prefix, issuing_body, scope_word

from .conftest import make_user


@pytest.mark.parametrize("name, level, word", [
    ("江门市", "city", "全市"), ("新会区", "county", "全区"), ("江海区", "county", "全区"),
    ("恩平市", "county", "全市"), ("灵璧县", "county", "全县"), ("科尔沁左翼后旗", "county", "全旗"),
    ("朱集镇", "township", "全镇"), ("白沙街道", "township", "全街道"), ("宁河区", "county", "全区"),
    ("广西壮族自治区", "province", "全区"), ("峨边彝族自治县", "county", "全县"),
])
def test_the_scope_word_comes_from_the_regions_own_name(name, level, word):
    assert scope_word(Region(code="1", name=name, level=level)) == word


def test_draft_of_a_district_says_quanqu_and_of_a_county_level_city_quanshi(jiangmen, frozen_now):
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
    period = campaign.periods[0]
    xinhui, enping = new_draft(period, region_by_code("440705")), new_draft(period, region_by_code("440785"))
    assert "全区已参保缴费" in xinhui.body and "全县" not in xinhui.body
    assert "全市已参保缴费" in enping.body and "全县" not in enping.body


def test_addressee_follows_the_children_that_exist(jiangmen, frozen_now):
    assert issuing_body(region_by_code("4407")).addressee == "各县（市、区）医疗保障局"
    assert issuing_body(region_by_code("440704")).addressee == "各街道办事处"  # 江海区: 街道 only
    assert issuing_body(region_by_code("440705")).addressee == "各镇人民政府、街道办事处"  # 新会区
    assert issuing_body(region_by_code("440705001")).addressee in ("各村（居）民委员会", "各社区居民委员会",
                                                                   "各村民委员会")
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    campaign, _ = create_campaign(name="江海区2023年度", root=region_by_code("440704"), start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
    add_department(campaign, "区民政局", ["hardship_should", "hardship_enrolled"])
    db.session.commit()
    assert issuing_body(region_by_code("440704")).addressee == "各街道办事处，区有关部门"


def test_each_issuing_body_numbers_with_its_own_prefix(jiangmen, frozen_now):
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
    period = campaign.periods[0]
    city, jianghai, xinhui = (region_by_code(c) for c in ("4407", "440704", "440705"))
    assert (issuing_body(city).prefix, issuing_body(jianghai).prefix, issuing_body(xinhui).prefix) == \
        ("江医保", "江海医保", "新会医保")
    numbers = [issue(new_draft(period, region), None).doc_number for region in (jianghai, city, jianghai)]
    assert numbers == ["江海医保〔2022〕1号", "江医保〔2022〕1号", "江海医保〔2022〕2号"]
    # a prefix another body prints is refused; a new one of its own starts its own serials
    with pytest.raises(ValueError, match="已由其他发文机关使用"):
        check_prefix(jianghai, "江医保")
    body = issuing_body(jianghai)
    body.prefix = "江海区医保"
    db.session.add(body)
    assert issue(new_draft(period, jianghai), None).doc_number == "江海区医保〔2022〕1号"
    frozen_now(dt.datetime(2023, 1, 3, 10, 0))
    assert issue(new_draft(period, jianghai), None).doc_number == "江海区医保〔2023〕1号"


def test_the_admin_sets_the_prefix_on_the_command_line_and_the_page(runner, client, auth, jiangmen, frozen_now):
    taken = runner.invoke(args=["circulars", "issuer", "440704", "--prefix", "江医保"])
    assert taken.exit_code != 0 and "已由其他发文机关使用" in taken.output
    done = runner.invoke(args=["circulars", "issuer", "440704", "--prefix", "江海医保字"])
    assert done.exit_code == 0, done.output
    assert issuing_body(region_by_code("440704")).prefix == "江海医保字"
    # on the edit page, the city cannot take it either
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
    make_user("admin", "city_admin", "4407")
    auth.login("admin")
    edit_url = client.post("/circulars/", data={"region": "4407", "period": campaign.periods[0].id}).headers["Location"]
    form = {"title": "通报", "body": "正文", "issuer": "江门市医疗保障局", "prefix": "江海医保字",
            "addressee": "各县（市、区）医疗保障局", "copy_to": "", "printed_by": "江门市医疗保障局办公室"}
    refused = client.post(edit_url, data=form, headers={"HX-Request": "true"})
    assert refused.status_code == 422 and "已由其他发文机关使用" in refused.get_data(as_text=True)
    assert issuing_body(jiangmen).prefix == "江医保"
