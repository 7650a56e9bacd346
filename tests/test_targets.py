"""Loading a 任务分解表: by code or by official name, all or nothing."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from reporting.campaigns.campaigns import create_campaign
from reporting.campaigns.targets import TargetImportError, import_targets
from reporting.extensions import db
from reporting.models import Target

from .fixtures.zhuji import SEED_001, SEED_TEXT


@pytest.fixture
def township_campaign(anhui):
    campaign, _ = create_campaign(name="朱集镇2023年度", root=anhui, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), rhythm="weekly")
    db.session.commit()
    return campaign


def targets():
    return db.session.scalar(select(func.count(Target.id)))


def test_seed_001_misspelt_village_stops_the_import(township_campaign):
    with pytest.raises(TargetImportError) as error:
        import_targets(township_campaign, SEED_001)
    assert "双杨村" in str(error.value)
    db.session.rollback()
    assert targets() == 0


def test_seed_001_corrected_loads_by_name(township_campaign, tmp_path):
    fixed = tmp_path / "fixed.csv"
    fixed.write_text(SEED_TEXT.replace("双杨村", "双扬村"), encoding="utf-8")
    result = import_targets(township_campaign, str(fixed))
    assert result.loaded == 13
    assert db.session.scalar(select(Target.task).join(Target.region).where(
        Target.region.has(code="341323117200"))) == 4723  # 朱集村 -> 朱集村委会
    assert sum(t.task for t in db.session.scalars(select(Target))) == 41851
    assert result.warnings == []


def test_children_not_summing_to_parent_warn(township_campaign, tmp_path):
    rows = SEED_TEXT.replace("双杨村", "双扬村")
    table = tmp_path / "with_town.csv"
    table.write_text(rows + ",朱集镇,47547,41850,\n", encoding="utf-8")
    result = import_targets(township_campaign, str(table))
    assert any("朱集镇的任务数为41,850" in w and "41,851" in w for w in result.warnings)


def test_codes_match_and_unknown_code_is_refused(township_campaign, tmp_path):
    table = tmp_path / "codes.csv"
    table.write_text("单位代码,任务数\n341323117200,100\n440703000000,5\n", encoding="utf-8")
    with pytest.raises(TargetImportError, match="440703000000"):
        import_targets(township_campaign, str(table))


def test_ambiguous_name_is_refused(jiangmen, tmp_path):
    campaign, _ = create_campaign(name="江门", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31))
    # several villages of Jiangmen share a name; pick one that occurs more than once
    from reporting.regions.hierarchy import descendants_at, name_index
    index = name_index((r.id, r.name) for r in db.session.scalars(descendants_at(jiangmen, "village")))
    twice = next(name for name, ids in index.items() if len(ids) > 1)
    table = tmp_path / "t.csv"
    table.write_text(f"单位名称,任务数\n{twice},10\n", encoding="utf-8")
    with pytest.raises(TargetImportError, match="请改用单位代码") as error:
        import_targets(campaign, str(table))
    assert twice in str(error.value)


def test_bad_numbers_refuse_everything(township_campaign, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("单位代码,任务数\n341323117200,100\n341323117201,十\n", encoding="utf-8")
    with pytest.raises(TargetImportError, match="第3行"):
        import_targets(township_campaign, str(table))
    db.session.rollback()
    assert targets() == 0


def test_xlsx_table_and_reimport_updates(township_campaign, tmp_path):
    from openpyxl import Workbook
    book = Workbook()
    book.active.append(["单位代码", "单位名称", "任务数", "应参保人数"])
    book.active.append(["341323117200", "朱集村委会", 4723, 4800])
    book.save(tmp_path / "t.xlsx")
    import_targets(township_campaign, str(tmp_path / "t.xlsx"))
    book.active["C2"] = 4724
    book.save(tmp_path / "t.xlsx")
    import_targets(township_campaign, str(tmp_path / "t.xlsx"))
    assert [(t.task, t.should_enroll) for t in db.session.scalars(select(Target))] == [(4724, 4800)]


def test_cli_targets_import_names_the_bad_name(runner, township_campaign):
    result = runner.invoke(args=["targets", "import", str(township_campaign.id), SEED_001])
    assert result.exit_code != 0
    assert "双杨村" in result.output
