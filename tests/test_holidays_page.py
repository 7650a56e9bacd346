"""The 节假日调整 page: paste a notice, see what was understood and what moves, save; filers are told."""
import datetime as dt

from sqlalchemy import func, select

from reporting.campaigns.campaigns import create_campaign
from reporting.extensions import db
from reporting.models import AuditEntry, DueChange, HolidayOverride, Period

from .conftest import make_user

D = dt.date
SPRING_2027 = "春节：2月6日至12日放假调休，共7天。2月14日（星期日）上班。"


def setup_world(jiangmen, frozen_now):
    """A weekly campaign due on Thursdays into 2027, seen on 2026年11月29日; an admin and a filer."""
    frozen_now(dt.datetime(2026, 11, 29, 9, 0))
    campaign, _ = create_campaign(name="江门市2027年度周报", root=jiangmen, start=D(2026, 9, 3),
                                  end=D(2026, 12, 31), extend_to=D(2027, 2, 28), rhythm="weekly")
    db.session.commit()
    make_user("jm_admin", "city_admin", "4407")
    make_user("xinhui", "county_filer", "440705")
    return campaign


def feb_11(campaign) -> Period:
    return next(p for p in campaign.periods if p.nominal_due == D(2027, 2, 11))


def overrides() -> int:
    return db.session.scalar(select(func.count(HolidayOverride.id)))


def test_the_page_warns_about_the_unknown_year_and_names_the_periods(client, auth, jiangmen, frozen_now):
    setup_world(jiangmen, frozen_now)
    auth.login("jm_admin")
    page = client.get("/admin/holidays").get_data(as_text=True)
    assert "官方节假日日历尚未收录2027年的安排" in page
    assert "第18期（截止1月7日）" in page and "第25期（截止2月25日）" in page
    assert "第18期（截止1月7日）、第19期（截止1月14日）" in page
    assert 'name="year" required type="number" value="2027"' in page  # the year to enter, proposed
    home = client.get("/").get_data(as_text=True)
    assert "官方节假日日历尚未收录2027年的安排" in home and "/admin/holidays?year=2027" in home


def test_preview_shows_what_was_understood_and_saves_nothing(client, auth, jiangmen, frozen_now):
    campaign = setup_world(jiangmen, frozen_now)
    auth.login("jm_admin")
    data = {"year": "2027", "text": SPRING_2027}
    full = client.post("/admin/holidays/preview", data=data)
    fragment = client.post("/admin/holidays/preview", data=data, headers={"HX-Request": "true"})
    for answer in (full, fragment):
        text = answer.get_data(as_text=True)
        assert answer.status_code == 200
        assert "2027年2月6日（周六）至2月12日（周五），共7天" in text and "2月14日（周日）" in text
        assert "江门市2027年度周报 第23期 报送截止 2027年2月11日 → 2月14日（周日）" in text
        assert "确认保存" in text
    assert "<html" in full.get_data(as_text=True) and "<html" not in fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"]
    assert overrides() == 0 and feb_11(campaign).due == D(2027, 2, 11)


def test_a_wrong_year_or_nothing_cannot_be_saved(client, auth, jiangmen, frozen_now):
    campaign = setup_world(jiangmen, frozen_now)
    auth.login("jm_admin")
    wrong = client.post("/admin/holidays/preview", data={"year": "2026", "text": SPRING_2027},
                        headers={"HX-Request": "true"})
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and "年份是否填错" in text and "确认保存" not in text
    empty = client.post("/admin/holidays/preview", data={"year": "2027", "text": ""},
                        headers={"HX-Request": "true"})
    assert empty.status_code == 422 and "请粘贴通知中的节日安排" in empty.get_data(as_text=True)
    saved = client.post("/admin/holidays", data={"year": "2026", "text": SPRING_2027})
    assert saved.status_code == 422 and overrides() == 0 and feb_11(campaign).due == D(2027, 2, 11)


def test_saving_moves_the_due_date_and_the_filer_is_told(client, auth, jiangmen, frozen_now):
    campaign = setup_world(jiangmen, frozen_now)
    auth.login("jm_admin")
    saved = client.post("/admin/holidays", data={"year": "2027", "text": SPRING_2027})
    assert saved.status_code == 303 and saved.location.endswith("/admin/holidays?year=2027")
    db.session.expire_all()
    assert overrides() == 8 and feb_11(campaign).due == D(2027, 2, 14)
    page = client.get("/admin/holidays?year=2027").get_data(as_text=True)
    assert "报送截止日期调整：第23期 报送截止 2027年2月11日 → 2月14日" in page  # the flash
    assert "2027年2月14日" in page and "上班" in page and "jm_admin" in page  # entered days, who moved dates
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.kind == "holiday.update"))
    assert entry.username == "jm_admin" and entry.after["days"]["2027-02-14"] == "上班"
    assert db.session.scalar(select(func.count(DueChange.id))) == 1
    moved = db.session.scalar(select(AuditEntry).where(AuditEntry.kind == "period.reschedule"))
    assert (moved.region.code, moved.before, moved.after) == ("4407", {"23": "2027-02-11"}, {"23": "2027-02-14"})
    log = client.get("/admin/audit").get_data(as_text=True)
    assert "调整节假日" in log and "调整报送截止日期" in log

    auth.logout()
    auth.login("xinhui")
    home = client.get("/").get_data(as_text=True)
    assert "报送截止日期调整" in home and "第23期 报送截止 2027年2月11日 → 2月14日" in home
    assert "尚未收录" not in home  # the filer cannot act on it; the admin's warning is the admin's


def test_a_stale_override_of_a_known_year_is_shown_and_removed(client, auth, jiangmen, frozen_now):
    setup_world(jiangmen, frozen_now)
    auth.login("jm_admin")
    # 2月28日 is an official 调休 working day of 2026; the rest of the line agrees with the official data
    client.post("/admin/holidays", data={"year": "2026", "text": "春节：2月15日至23日放假调休，共9天。"})
    client.post("/admin/holidays", data={"year": "2026", "text": "补记：2月28日放假1天。"})
    page = client.get("/admin/holidays?year=2026").get_data(as_text=True)
    assert "官方节假日日历已收录2026年" in page and "有1天与官方数据不一致" in page and "官方为上班" in page
    removed = client.post("/admin/holidays/remove", data={"remove-day": "2026-02-28"})
    assert removed.status_code == 303
    page = client.get("/admin/holidays?year=2026").get_data(as_text=True)
    assert "不一致" not in page and "录入的日期与官方数据一致，可以删除" in page
    assert db.session.scalar(select(HolidayOverride).where(HolidayOverride.day == D(2026, 2, 28))) is None
    cleared = client.post("/admin/holidays/remove", data={"remove-year": "2026"})
    assert cleared.status_code == 303 and overrides() == 0
    assert "已删除2026年的9天调整" in client.get(cleared.location).get_data(as_text=True)
    nothing = client.post("/admin/holidays/remove", data={})
    assert nothing.status_code == 422 and "请给出要删除的日期或年份" in nothing.get_data(as_text=True)


def test_removing_a_day_moves_the_due_date_back(client, auth, jiangmen, frozen_now):
    campaign = setup_world(jiangmen, frozen_now)
    auth.login("jm_admin")
    client.post("/admin/holidays", data={"year": "2027", "text": SPRING_2027})
    assert feb_11(campaign).due == D(2027, 2, 14)
    removed = client.post("/admin/holidays/remove", data={"remove-day": "2027-02-14"})
    assert removed.status_code == 303
    db.session.expire_all()
    assert feb_11(campaign).due == D(2027, 2, 15)  # the Sunday is a weekend again
    page = client.get(removed.location).get_data(as_text=True)
    assert "已删除2月14日的1天调整；报送截止日期调整：第23期 报送截止 2027年2月14日 → 2月15日" in page


def test_only_the_city_admin_enters_days(client, auth, jiangmen, frozen_now):
    setup_world(jiangmen, frozen_now)
    auth.login("xinhui")
    answer = client.post("/admin/holidays", data={"year": "2027", "text": SPRING_2027})
    assert answer.status_code == 403 and "只有市级管理员或系统管理员可以修改系统设置" in answer.get_data(as_text=True)
    assert overrides() == 0


def test_another_citys_moved_periods_are_counted_not_named(client, auth, jiangmen, anhui, frozen_now):
    """The calendar is national: 宿州's campaign moves too, but 江门's admin only learns how many."""
    campaign = setup_world(jiangmen, frozen_now)
    other, _ = create_campaign(name="灵璧县2027年度周报", root=anhui.parent, start=D(2026, 9, 3),
                               end=D(2026, 12, 31), extend_to=D(2027, 2, 28), rhythm="weekly")
    db.session.commit()
    auth.login("jm_admin")
    preview = client.post("/admin/holidays/preview", data={"year": "2027", "text": SPRING_2027})
    text = preview.get_data(as_text=True)
    assert "另有1个其他地区的报送期次随之调整" in text and "灵璧" not in text
    saved = client.post("/admin/holidays", data={"year": "2027", "text": SPRING_2027})
    page = client.get(saved.location).get_data(as_text=True)
    assert "第23期 报送截止 2027年2月11日 → 2月14日" in page and "灵璧" not in page
    assert "灵璧" not in client.get("/admin/audit").get_data(as_text=True)
    db.session.expire_all()
    assert feb_11(campaign).due == feb_11(other).due == D(2027, 2, 14)
    # 宿州's own admin finds the move in its log, with who made it
    make_user("sz_admin", "city_admin", "3413")
    auth.logout()
    auth.login("sz_admin")
    log = client.get("/admin/audit").get_data(as_text=True)
    assert "<td>jm_admin</td><td>调整报送截止日期</td>" in log
    assert "<td>灵璧县</td><td>征缴期 2 灵璧县2027年度周报</td>" in log


TWO_HOLIDAYS = ("元旦：1月1日（星期五）至3日放假，共3天。\n" + SPRING_2027 + "\n端午节放假安排另行通知。")


def test_each_day_says_its_own_holiday_a_dateless_line_is_unrecognized_and_the_adjuster_is_named(
        client, auth, jiangmen, frozen_now):
    setup_world(jiangmen, frozen_now)
    from reporting.models import User
    admin = db.session.scalar(select(User).where(User.username == "jm_admin"))
    admin.full_name = "陈晓东"
    db.session.commit()
    auth.login("jm_admin")
    preview = client.post("/admin/holidays/preview", data={"year": "2027", "text": TWO_HOLIDAYS})
    text = preview.get_data(as_text=True)
    row = text[text.index("<td>端午节放假安排另行通知。"):]
    assert "未识别" in row[:row.index("</tr>")]
    saved = client.post("/admin/holidays", data={"year": "2027", "text": TWO_HOLIDAYS})
    assert saved.status_code == 303
    notes = dict(db.session.execute(select(HolidayOverride.day, HolidayOverride.note)).all())
    assert notes[D(2027, 2, 8)] == "2027年春节" and notes[D(2027, 1, 1)] == "2027年元旦"
    page = client.get("/admin/holidays?year=2027").get_data(as_text=True)
    moved = page[page.index("调整人"):]
    assert "陈晓东" in moved and "jm_admin" not in moved
