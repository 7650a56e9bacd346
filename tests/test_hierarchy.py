"""Loading the statistical division files into the region tree."""
import gzip
import shutil

import pytest
from sqlalchemy import func, select

from reporting.extensions import db
from reporting.models import Region
from reporting.regions.hierarchy import DivisionFileError, descendants_at, import_divisions, name_forms, region_by_code

from .conftest import ANHUI, JIANGMEN


def count(level=None):
    query = select(func.count(Region.id))
    if level:
        query = query.where(Region.level == level)
    return db.session.scalar(query)


def test_jiangmen_loads_whole_with_ancestors(app):
    result = import_divisions(JIANGMEN)
    db.session.commit()
    assert result.added == 1 + 1 + 7 + 82 + 1348
    assert [count(lvl) for lvl in ("province", "city", "county", "township", "village")] == [1, 1, 7, 82, 1348]
    village = db.session.scalar(select(Region).where(Region.level == "village").order_by(Region.code))
    township, county, city = village.parent, village.parent.parent, village.parent.parent.parent
    assert (village.township_id, village.county_id, village.city_id) == (township.id, county.id, city.id)
    assert city.code == "4407" and city.name == "江门市"
    assert (city.counties, city.townships, city.villages) == (7, 82, 1348)
    assert county.villages == db.session.scalar(select(func.count(Region.id)).where(
        Region.county_id == county.id, Region.level == "village"))
    assert village.units("village") == 1 and township.units("village") == township.villages > 0
    assert [r.code for r in village.ancestors()] == ["44", "4407", county.code, township.code]
    # "everything under the city" is one indexed equality
    assert db.session.scalar(select(func.count()).select_from(
        descendants_at(city, "village").subquery())) == 1348


def test_import_is_idempotent_and_takes_renames(app, tmp_path):
    import_divisions(JIANGMEN)
    db.session.commit()
    shutil.copytree(JIANGMEN, tmp_path / "next")
    areas = tmp_path / "next" / "areas.csv"
    areas.write_text(areas.read_text(encoding="utf-8").replace("蓬江区", "蓬江新区"), encoding="utf-8")
    again = import_divisions(str(tmp_path / "next"))
    db.session.commit()
    assert again.added == 0 and again.renamed == 1 and again.unchanged == 1438
    assert count() == 1439
    assert region_by_code("440703").name == "蓬江新区"


def test_quoted_csv_and_rare_characters(app):
    import_divisions(ANHUI)  # villages.csv here is fully quoted, not gzipped
    db.session.commit()
    assert region_by_code("341302").name == "埇桥区"  # 埇 lies outside GB2312
    assert region_by_code("341323117200").name == "朱集村委会"
    assert count("village") == 13


def test_under_keeps_one_subtree_and_its_ancestors(app):
    import_divisions(JIANGMEN, under="440705")
    db.session.commit()
    assert region_by_code("44") is not None and region_by_code("4407") is not None
    assert region_by_code("440703") is None
    assert count("county") == 1
    assert count("village") == db.session.scalar(select(func.count(Region.id)).where(
        Region.level == "village", Region.code.like("440705%")))
    assert count("village") > 0


def test_malformed_file_stops_and_writes_nothing(app, tmp_path):
    shutil.copytree(JIANGMEN, tmp_path / "bad")
    with gzip.open(tmp_path / "bad" / "villages.csv.gz", "at", encoding="utf-8") as f:
        f.write("44070312345,缺一位的村,440703001,44,4407,440703\n")
    with pytest.raises(DivisionFileError) as error:
        import_divisions(str(tmp_path / "bad"))
    assert "villages.csv.gz" in str(error.value) and "12位" in str(error.value)
    assert "\n" not in str(error.value)
    db.session.rollback()
    assert count() == 0


def test_missing_column_is_a_one_line_reason(app, tmp_path):
    (tmp_path / "provinces.csv").write_text("code,title\n44,广东省\n", encoding="utf-8")
    with pytest.raises(DivisionFileError, match="缺少列 name"):
        import_divisions(str(tmp_path))


def test_rows_without_a_parent_are_named_not_loaded(app, tmp_path):
    (tmp_path / "provinces.csv").write_text("code,name\n44,广东省\n", encoding="utf-8")
    (tmp_path / "cities.csv").write_text("code,name,provinceCode\n4407,江门市,44\n9901,无处安放市,99\n",
                                         encoding="utf-8")
    result = import_divisions(str(tmp_path))
    assert result.unplaced == [("cities.csv", 3, "9901", "无处安放市")]
    assert count() == 2


def test_empty_directory_is_refused(app, tmp_path):
    with pytest.raises(DivisionFileError, match="没有找到"):
        import_divisions(str(tmp_path))


@pytest.mark.parametrize("official, short", [
    ("朱集村委会", "朱集村"), ("朱集村村委会", "朱集村"), ("湖光村民委员会", "湖光村"),
    ("多福巷社区居委会", "多福巷社区"), ("东厂社区居民委员会", "东厂社区"), ("埇桥街道", "埇桥街道"),
])
def test_name_forms_accept_the_short_form(official, short):
    assert short in name_forms(official) and official in name_forms(official)


def test_name_forms_are_never_approximate():
    assert "双杨村" not in name_forms("双扬村委会")
    assert "朱集" not in name_forms("朱集村委会")


def test_cli_import_reports_progress_and_counts(runner, app):
    result = runner.invoke(args=["regions", "import", JIANGMEN])
    assert result.exit_code == 0, result.output
    assert "新增1,439个" in result.output
    again = runner.invoke(args=["regions", "import", JIANGMEN, "--under", "4407"])
    assert "新增0个" in again.output and "未变1,439个" in again.output


def test_cli_import_of_missing_dir_fails_in_one_line(runner, app, tmp_path):
    result = runner.invoke(args=["regions", "import", str(tmp_path / "nowhere")])
    assert result.exit_code != 0
    assert "目录不存在" in result.output
