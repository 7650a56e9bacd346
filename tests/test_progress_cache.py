"""Progress answers cached in Redis stay live: a write moves the campaign's version in its own
transaction, every instance reads that version, and a new day is a new key."""
import datetime as dt

import pytest
from sqlalchemy import select

from reporting.extensions import db
from reporting.filing.filing import import_reports, save_report
from reporting.models import ProgressVersion
from reporting.progress import cache, ranking
from reporting.progress.ranking import progress_json
from reporting.regions.hierarchy import region_by_code

from .conftest import make_user
from .fixtures.tally import FILER, form, villages_of

COMPUTE = ranking.progress


@pytest.fixture
def cached(jobs_app):  # REDIS_URL set to an emptied database of its own
    yield jobs_app
    for client in cache._clients.values():
        client.close()
    cache._clients.clear()


@pytest.fixture
def computed(monkeypatch):
    """The regions ranking.progress really computed, in order."""
    calls = []

    def counting(period, region, measure=None):
        calls.append(region.code)
        return COMPUTE(period, region, measure)
    monkeypatch.setattr(ranking, "progress", counting)
    return calls


def fresh(period, code):
    return progress_json(COMPUTE(period, region_by_code(code)))


def test_a_submission_is_seen_at_once_in_every_ancestor(cached, empty_campaign, computed):
    period = empty_campaign.periods[0]
    villages = villages_of("440705001")
    import_reports(period, [(n, v.code, form(2000), {}) for n, v in enumerate(villages[1:])], submit=True)
    db.session.commit()
    codes = ["44", "4407", "440705", "440705001"]
    for code in codes:
        cache.progress(period, region_by_code(code))
    assert computed == codes
    answers = {code: progress_json(cache.progress(period, region_by_code(code))) for code in codes}
    assert computed == codes  # served from Redis
    for code in codes:
        assert answers[code] == fresh(period, code)

    save_report(period, villages[0], form(2345), FILER, user=None, submit=True)
    db.session.commit()
    computed.clear()
    for code in codes:
        answer = progress_json(cache.progress(period, region_by_code(code)))
        assert answer == fresh(period, code)
        assert answer != answers[code]
    assert computed == codes  # every ancestor computed afresh after the commit


def test_a_rolled_back_write_keeps_the_cache(cached, empty_campaign, computed):
    period = empty_campaign.periods[0]
    villages = villages_of("440705001")
    import_reports(period, [(0, villages[0].code, form(2000), {})], submit=True)
    db.session.commit()
    before = db.session.scalar(select(ProgressVersion.version))
    cache.progress(period, region_by_code("4407"))
    save_report(period, villages[1], form(2100), FILER, user=None, submit=True)
    db.session.rollback()
    assert db.session.scalar(select(ProgressVersion.version)) == before
    cache.progress(period, region_by_code("4407"))
    assert computed == ["4407"]


def test_another_instance_reads_the_same_entry(cached, empty_campaign, computed, app):
    period = empty_campaign.periods[0]
    villages = villages_of("440705001")
    import_reports(period, [(0, villages[0].code, form(2000), {})], submit=True)
    db.session.commit()
    first = progress_json(cache.progress(period, region_by_code("4407")))
    for client in cache._clients.values():  # another process: its own connection, nothing in memory
        client.close()
    cache._clients.clear()
    db.session.expunge_all()
    from reporting.models import Period
    period = db.session.get(Period, period.id)
    assert progress_json(cache.progress(period, region_by_code("4407"))) == first
    assert computed == ["4407"]


def test_a_new_day_and_new_tasks_are_new_answers(cached, empty_campaign, computed, frozen_now, runner, tmp_path):
    period = empty_campaign.periods[0]
    villages = villages_of("440705001")
    import_reports(period, [(0, villages[0].code, form(2000), {})], submit=True)
    db.session.commit()
    city = region_by_code("4407")
    cache.progress(period, city)
    frozen_now(dt.datetime(2022, 10, 9, 9, 0))  # past the due day: 逾期 without any write
    cache.progress(period, city)
    assert computed == ["4407", "4407"]
    path = tmp_path / "tasks.csv"
    path.write_text("单位代码,任务数\n4407,3000000\n440705,600000\n", encoding="utf-8")
    result = runner.invoke(args=["targets", "import", str(empty_campaign.id), str(path)])
    assert result.exit_code == 0, result.output
    answer = progress_json(cache.progress(period, city))
    assert computed == ["4407"] * 3 and answer == fresh(period, "4407")
    assert answer["region"]["completion"] is not None


def test_without_redis_every_answer_is_computed(app, empty_campaign, computed):
    assert not app.config.get("REDIS_URL")
    period = empty_campaign.periods[0]
    import_reports(period, [(0, villages_of("440705001")[0].code, form(2000), {})], submit=True)
    db.session.commit()
    cache.progress(period, region_by_code("4407"))
    cache.progress(period, region_by_code("4407"))
    assert computed == ["4407", "4407"]


def test_dashboard_and_charts_from_the_cache_are_the_pages_computed(cached, empty_campaign, client, auth, computed):
    period = empty_campaign.periods[0]
    villages = villages_of("440705001")
    import_reports(period, [(n, v.code, form(2000 + n), {}) for n, v in enumerate(villages)], submit=True)
    db.session.commit()
    make_user("boss", "viewer", "4407")
    auth.login("boss")
    pages = [client.get(f"/dashboard/4407?period={period.id}").get_data(as_text=True),
             client.get(f"/dashboard/4407/charts?period={period.id}", headers={"HX-Request": "true"})
             .get_data(as_text=True)]
    assert computed == ["4407"]  # the charts fragment reuses the page's answer
    again = [client.get(f"/dashboard/4407?period={period.id}").get_data(as_text=True),
             client.get(f"/dashboard/4407/charts?period={period.id}", headers={"HX-Request": "true"})
             .get_data(as_text=True)]
    assert computed == ["4407"] and again == pages
    assert "<svg" in pages[1] and "新会区" in pages[0]


def test_a_write_moves_its_own_branch_and_the_root_only(cached, empty_campaign, computed):
    period = empty_campaign.periods[0]
    xinhui, pengjiang = villages_of("440705001"), villages_of("440703")
    import_reports(period, [(0, xinhui[0].code, form(2000), {}), (1, pengjiang[0].code, form(2000), {})],
                   submit=True)
    db.session.commit()
    codes = ["4407", "440705", "440705001", "440703"]
    for code in codes:
        cache.progress(period, region_by_code(code))
    computed.clear()
    save_report(period, xinhui[1], form(2222), FILER, user=None, submit=True)
    db.session.commit()
    answers = {code: progress_json(cache.progress(period, region_by_code(code))) for code in codes}
    assert computed == ["4407", "440705", "440705001"]  # 蓬江区 (another branch) from the cache
    for code in codes:
        assert answers[code] == fresh(period, code)


def test_a_regions_import_that_changes_the_tree_moves_every_version(cached, empty_campaign, computed, runner):
    from .conftest import ANHUI, JIANGMEN
    period = empty_campaign.periods[0]
    import_reports(period, [(0, villages_of("440705001")[0].code, form(2000), {})], submit=True)
    db.session.commit()
    cache.progress(period, region_by_code("440705"))
    assert runner.invoke(args=["regions", "import", JIANGMEN]).exit_code == 0  # nothing new: no bump
    cache.progress(period, region_by_code("440705"))
    assert computed == ["440705"]
    assert runner.invoke(args=["regions", "import", ANHUI]).exit_code == 0
    cache.progress(period, region_by_code("440705"))
    assert computed == ["440705", "440705"]
