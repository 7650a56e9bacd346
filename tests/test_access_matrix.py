"""Who may open what: every route × every role × own region / another region, plus anonymous, and CSRF.

The table ROUTES names every endpoint of app.url_map (but static) and every method it accepts; a route
added without a row here fails the matrix, so that nobody ships a page whose access nobody checked.
"""
from __future__ import annotations

import datetime as dt
import io
import re
import secrets
import zipfile
from dataclasses import dataclass, replace
from typing import Callable, Optional

import pytest
from flask import current_app, g, url_for
from openpyxl import load_workbook
from sqlalchemy import func, select

from app import create_app
from reporting.campaigns.campaigns import create_campaign
from reporting.circulars.circulars import issue, new_draft
from reporting.departments.departments import add_department
from reporting.extensions import db
from reporting.filing.filing import import_reports, save_report
from reporting.models import ApiToken, Region, Report, SupervisionItem, User
from reporting.regions.hierarchy import descendants_at, region_by_code
from reporting.supervision.supervision import create as create_supervision
from reporting.supervision.supervision import respond as respond_supervision

CITY, XINHUI, PENGJIANG, SUZHOU = "4407", "440705", "440703", "3413"
SHADUI, YAMEN, LINGBI = "440705106", "440705105", "341323"  # 沙堆镇, 崖门镇 (both 新会区), 灵璧县
#: the three duty roles of 三员分立: they administer the site and read none of its figures
DUTY = ("system_admin", "security_admin", "audit_admin")
ROLES = ("city_admin", "county_filer", "township_filer", "viewer", "department_filer") + DUTY
WRITERS = frozenset({"city_admin", "county_filer", "township_filer"})
#: every role bound to a region subtree; a department filer sees its department only
EVERYONE = frozenset(ROLES) - {"department_filer"} - frozenset(DUTY)
#: every user of the business: issued circulars addressed to them
ANYONE = frozenset(ROLES) - frozenset(DUTY)
#: every signed-in user: their own start page, password, sessions and tokens
EVERYBODY = frozenset(ROLES)
ADMIN = frozenset({"city_admin"})
#: access.CAPABILITIES: settings (holidays, robots), accounts and the audit log, with
#: SEPARATION_OF_DUTIES off; the `separated` variants hold when it is on
SETTINGS_ADMINS = frozenset({"city_admin", "system_admin"})
ACCOUNT_ADMINS = frozenset({"city_admin", "security_admin"})
ACCOUNT_ADMINS_SEPARATED = frozenset({"security_admin"})
AUDITORS = frozenset({"city_admin", "audit_admin"})
AUDITORS_SEPARATED = frozenset({"audit_admin"})
#: who opens the user list and a user's page (a settings admin for the 催报 robots only)
USER_PAGE_READERS = SETTINGS_ADMINS | ACCOUNT_ADMINS
REVIEWERS = frozenset({"city_admin", "county_filer"})
#: who files a department's reports, and who may read them (those who see the region it sits at)
DEPARTMENT_WRITERS = frozenset({"city_admin", "department_filer"})
DEPARTMENT_READERS = frozenset({"city_admin", "viewer", "county_filer", "department_filer"})
#: who answers a 督办 about a village of 沙堆镇: its township files it (the county and the city review it)
ANSWERERS = frozenset({"township_filer"})
PASSWORD = "correct-horse-battery"
COUNTS = {"population": 3000, "should_enroll": 2600, "enrolled": 2000, "hardship_should": 80,
          "hardship_enrolled": 78, "students_enrolled": 400, "newborns_enrolled": 20, "college_enrolled": 0}
#: what answers are: a page or fragment, a redirect, or nothing (htmx)
SUCCESS = {200, 201, 204, 302, 303}
REFUSED = {401, 403, 404}
HAN = re.compile(r"[\u4e00-\u9fff]")
SPRING_2027 = "春节：2月6日至12日放假调休，共7天。2月14日（星期日）上班。"


# --- the world the matrix runs in --------------------------------------------------------------

@dataclass
class Place:
    """Things of one region, for the URLs of the table: for a role, its own or another region."""
    region: str  #: a region code (the role's own region, or one outside it)
    grid: str  #: the filing region of a grid URL
    unit: str  #: a report-level unit under `grid`
    period: int
    campaign: int
    circular: int  #: an issued circular of a region in the place
    draft: int  #: a draft circular
    user: int  #: an account bound inside the place
    token: int  #: an API token to revoke
    name: str = ""  #: what an in-scope page shows: the region's name
    doc_number: str = ""  #: the issued circular's 发文字号
    department: int = 0  #: a department (条线) of the place's campaign
    department_name: str = ""
    item: int = 0  #: a supervision item (督办) about the place's unit
    attachment: int = 0  #: a file of the item's 整改报告


@dataclass
class Identity:
    role: str
    username: str
    client: object
    token: str
    own: Place
    other: Place
    #: names, codes and counts of regions outside the user's subtree: never in any answer to them
    foreign: tuple[str, ...]
    #: what is foreign even in an issued 通报 addressed to the user, which prints every unit under its
    #: region (for a department filer, the 区's towns and departments are not); None: `foreign`
    foreign_to_addressee: Optional[tuple[str, ...]] = None


def _u(endpoint: str, **values) -> str:
    # a short-lived request context of its own: one held open would share flask-login's user across clients
    with current_app.test_request_context():
        return url_for(endpoint, **values)


@dataclass
class Call:
    """One (route, method) of the matrix.

    url(place) builds the URL (and data(place) the form or JSON) for a place; `scoped` says whether the
    place matters, i.e. whether there is an "another region" variant to refuse.
    """
    url: Callable[[Place], str]
    roles: frozenset = EVERYONE  #: roles that may do this inside their region
    write: bool = False
    scoped: bool = True
    data: Optional[Callable[[Place], dict]] = None
    json: Optional[Callable[[Place], dict]] = None
    #: text an in-scope full page (or workbook) shows; "%PDF" checks the file's signature
    shows: Optional[Callable[[Place], str]] = None
    #: statuses that count as a refusal for another region (a form error is one, for some forms)
    refused: frozenset = frozenset(REFUSED)
    public: bool = False
    #: the roles allowed when SEPARATION_OF_DUTIES is on (None: the same as `roles`)
    separated: Optional[frozenset] = None
    api: bool = False  #: a JSON API call, authenticated by a bearer token
    addressed: bool = False  #: shows an issued 通报 to the units it is addressed to
    relogin: bool = False  #: the call signs the user out


def user_form(place: Place) -> dict:
    return {"full_name": "矩阵用户", "phone": "", "role": "viewer", "region": place.region, "active": "y"}


#: endpoint -> method -> Call. Every route of app.url_map (but static) with every method it accepts.
ROUTES: dict[str, dict[str, Call]] = {
    "home.index": {"GET": Call(lambda p: _u("home.index"), scoped=False, roles=EVERYBODY, shows=lambda p: p.name)},
    "auth.login": {
        "GET": Call(lambda p: _u("auth.login"), scoped=False, public=True, roles=EVERYBODY),
        "POST": Call(lambda p: _u("auth.login"), scoped=False, public=True, write=True, roles=EVERYBODY,
                     data=lambda p: {"username": "nobody", "password": "wrong-password-42"}),
    },
    "auth.logout": {"POST": Call(lambda p: _u("auth.logout"), scoped=False, write=True, relogin=True,
                                 roles=EVERYBODY)},
    "auth.account_sessions": {"GET": Call(lambda p: _u("auth.account_sessions"), scoped=False, roles=EVERYBODY,
                                          shows=lambda p: "退出其他设备")},
    "auth.end_other_sessions": {"POST": Call(lambda p: _u("auth.end_other_sessions"), scoped=False, write=True,
                                             roles=EVERYBODY)},
    "regions.show": {"GET": Call(lambda p: _u("regions.show", code=p.region), shows=lambda p: p.name)},
    # a search only ever looks inside the user's own subtree (tests/test_search.py tries other codes)
    "search.index": {"GET": Call(lambda p: _u("search.index", q=p.region), scoped=False, shows=lambda p: p.name)},
    "dashboard.index": {"GET": Call(lambda p: _u("dashboard.index"), scoped=False, roles=ANYONE)},
    "dashboard.show": {"GET": Call(lambda p: _u("dashboard.show", code=p.region, period=p.period),
                                   shows=lambda p: p.name)},
    "dashboard.charts": {"GET": Call(lambda p: _u("dashboard.charts", code=p.region, period=p.period),
                                     shows=lambda p: p.name)},
    "dashboard.missing": {"GET": Call(lambda p: _u("dashboard.missing", code=p.region, period=p.period),
                                      shows=lambda p: p.name)},
    "dashboard.export": {"GET": Call(lambda p: _u("dashboard.export", code=p.region, period=p.period),
                                     shows=lambda p: p.name)},
    # a department filer is sent to its own department's form, and refused any region's
    "filing.index": {"GET": Call(lambda p: _u("filing.index", region=p.grid, period=p.period), roles=ANYONE)},
    # a viewer reads the grid (read-only), its history and its workbook
    "filing.grid": {"GET": Call(lambda p: _u("filing.grid", period_id=p.period, code=p.grid),
                                shows=lambda p: p.unit)},
    "filing.history": {"GET": Call(lambda p: _u("filing.history", period_id=p.period, code=p.grid),
                                   shows=lambda p: "修改记录")},
    "filing.download": {"GET": Call(lambda p: _u("filing.download", period_id=p.period, code=p.grid),
                                    shows=lambda p: p.unit)},
    "filing.update_unit": {"POST": Call(
        lambda p: _u("filing.update_unit", period_id=p.period, code=p.grid, unit_code=p.unit),
        roles=WRITERS, write=True, data=lambda p: {"population": "3000"})},
    # 放弃修改 of a row's held typing (nothing held here: back to the grid)
    "filing.discard": {"POST": Call(
        lambda p: _u("filing.discard", period_id=p.period, code=p.grid, unit_code=p.unit),
        roles=WRITERS, write=True, data=lambda p: {})},
    "filing.submit": {"POST": Call(lambda p: _u("filing.submit", period_id=p.period, code=p.grid),
                                   roles=WRITERS, write=True,
                                   data=lambda p: {"filer_name": "矩阵", "filer_phone": "13800000000",
                                                   "filer_head": "矩阵"})},
    "filing.upload": {
        "GET": Call(lambda p: _u("filing.upload", period_id=p.period, code=p.grid), roles=WRITERS,
                    shows=lambda p: "上传"),
        "POST": Call(lambda p: _u("filing.upload", period_id=p.period, code=p.grid), roles=WRITERS,
                     write=True, data=lambda p: {}),
    },
    "system_figures.show": {"GET": Call(lambda p: _u("system_figures.show", period_id=p.period), roles=ADMIN,
                                        shows=lambda p: "导入信息系统数据")},
    "system_figures.upload": {"POST": Call(lambda p: _u("system_figures.upload", period_id=p.period), roles=ADMIN,
                                           write=True, data=lambda p: {})},
    "circulars.index": {"GET": Call(lambda p: _u("circulars.index", region=p.grid),
                                    shows=lambda p: p.doc_number)},
    "circulars.create": {"POST": Call(lambda p: _u("circulars.create"), roles=ADMIN, write=True,
                                      data=lambda p: {"region": p.region, "period": str(p.period)})},
    # an issued 通报 is addressed to every unit under its region, the departments sitting there included
    "circulars.show": {"GET": Call(lambda p: _u("circulars.show", circular_id=p.circular),
                                   roles=ANYONE, shows=lambda p: p.doc_number)},
    "circulars.printable": {"GET": Call(lambda p: _u("circulars.printable", circular_id=p.circular),
                                        roles=ANYONE, addressed=True, shows=lambda p: p.doc_number)},
    "circulars.pdf": {"GET": Call(lambda p: _u("circulars.pdf", circular_id=p.circular),
                                  roles=ANYONE, shows=lambda p: "%PDF")},
    "circulars.edit": {
        "GET": Call(lambda p: _u("circulars.edit", circular_id=p.draft), roles=ADMIN),
        "POST": Call(lambda p: _u("circulars.edit", circular_id=p.draft), roles=ADMIN, write=True,
                     data=lambda p: {"title": "关于参保进度的通报", "body": "一、总体进展\n进展顺利。",
                                     "issuer": "医疗保障局", "prefix": "医保", "addressee": "各单位",
                                     "copy_to": "", "printed_by": "医疗保障局办公室"}),
    },
    # the progress of a circular being issued in the background (a draft without a job goes back to editing)
    "circulars.job": {"GET": Call(lambda p: _u("circulars.job", circular_id=p.draft), roles=ADMIN)},
    "circulars.issue_circular": {"POST": Call(lambda p: _u("circulars.issue_circular", circular_id=p.draft),
                                              roles=ADMIN, write=True)},
    # 按最新数据重新生成: the draft's author level only
    "circulars.regenerate_circular": {"POST": Call(lambda p: _u("circulars.regenerate_circular", circular_id=p.draft),
                                                   roles=ADMIN, write=True)},
    "admin.users": {
        "GET": Call(lambda p: _u("admin.users"), roles=USER_PAGE_READERS, scoped=False, shows=lambda p: "victim_own"),
        # another region is a form error: the admin may only bind users inside the subtree
        "POST": Call(lambda p: _u("admin.users"), roles=ACCOUNT_ADMINS, separated=ACCOUNT_ADMINS_SEPARATED,
                     write=True, refused=frozenset({403, 422}),
                     data=lambda p: {"username": f"m{secrets.token_hex(4)}", "role": "viewer",
                                     "region": p.region, "password": "a-long-unusual-passphrase-42"}),
    },
    "admin.edit_user": {
        "GET": Call(lambda p: _u("admin.edit_user", user_id=p.user), roles=USER_PAGE_READERS,
                    shows=lambda p: "victim_own"),
        "POST": Call(lambda p: _u("admin.edit_user", user_id=p.user), roles=ACCOUNT_ADMINS,
                     separated=ACCOUNT_ADMINS_SEPARATED, write=True, data=user_form),
    },
    "admin.reset_password": {"POST": Call(lambda p: _u("admin.reset_password", user_id=p.user), roles=ACCOUNT_ADMINS,
                                          separated=ACCOUNT_ADMINS_SEPARATED, write=True,
                                          data=lambda p: {"reset-password": "a-long-unusual-passphrase-42"})},
    "admin.unlock_user": {"POST": Call(lambda p: _u("admin.unlock_user", user_id=p.user), roles=ACCOUNT_ADMINS,
                                       separated=ACCOUNT_ADMINS_SEPARATED, write=True)},
    "admin.end_user_sessions": {"POST": Call(lambda p: _u("admin.end_user_sessions", user_id=p.user),
                                             roles=ACCOUNT_ADMINS, separated=ACCOUNT_ADMINS_SEPARATED, write=True)},
    "admin.audit_log": {"GET": Call(lambda p: _u("admin.audit_log", region=p.region), roles=AUDITORS,
                                    separated=AUDITORS_SEPARATED, shows=lambda p: "审计日志")},
    "admin.audit_export": {"GET": Call(lambda p: _u("admin.audit_export", fmt="xlsx", region=p.region),
                                       roles=AUDITORS, separated=AUDITORS_SEPARATED, shows=lambda p: "校验值")},
    "api.audit_log": {"GET": Call(lambda p: _u("api.audit_log"), api=True, scoped=False, roles=AUDITORS,
                                  separated=AUDITORS_SEPARATED, shows=lambda p: '"entries"')},
    # the holiday calendar is national: no region in the URL, the admin's own campaigns on the page
    "admin.holidays_page": {"GET": Call(lambda p: _u("admin.holidays_page", year=2027), roles=SETTINGS_ADMINS,
                                        scoped=False, shows=lambda p: "2027年已录入的调整")},
    "admin.holiday_preview": {"POST": Call(lambda p: _u("admin.holiday_preview"), roles=SETTINGS_ADMINS,
                                           scoped=False, write=True,
                                           data=lambda p: {"year": "2027", "text": SPRING_2027})},
    "admin.holidays_save": {"POST": Call(lambda p: _u("admin.holidays_save"), roles=SETTINGS_ADMINS, scoped=False,
                                         write=True, data=lambda p: {"year": "2027", "text": SPRING_2027})},
    "admin.holiday_remove": {"POST": Call(lambda p: _u("admin.holiday_remove"), roles=SETTINGS_ADMINS,
                                          scoped=False, write=True, data=lambda p: {"remove-day": "2027-02-14"})},
    "admin.campaign_next": {
        "GET": Call(lambda p: _u("admin.campaign_next", campaign_id=p.campaign), roles=ADMIN,
                    shows=lambda p: "建立下一年度征缴期"),
        "POST": Call(lambda p: _u("admin.campaign_next", campaign_id=p.campaign), roles=ADMIN, write=True,
                     data=lambda p: {"name": ""}),
    },
    "admin.change_password": {
        "GET": Call(lambda p: _u("admin.change_password"), scoped=False, roles=EVERYBODY,
                    shows=lambda p: "修改密码"),
        "POST": Call(lambda p: _u("admin.change_password"), scoped=False, write=True, roles=EVERYBODY,
                     data=lambda p: {"current": "not-my-password", "password": "a-long-unusual-passphrase-42",
                                     "confirm": "a-long-unusual-passphrase-42"}),
    },
    # one's own tokens; ?user= is how an admin makes one for a user of the subtree
    "admin.tokens": {
        "GET": Call(lambda p: _u("admin.tokens"), scoped=False, roles=EVERYBODY, shows=lambda p: "API 令牌"),
        "POST": Call(lambda p: _u("admin.tokens", user=p.user), write=True, data=lambda p: {"token-label": "矩阵"},
                     roles=ACCOUNT_ADMINS, separated=ACCOUNT_ADMINS_SEPARATED),
    },
    "admin.revoke": {"POST": Call(lambda p: _u("admin.revoke", token_id=p.token), write=True, roles=EVERYBODY)},
    "api.region": {"GET": Call(lambda p: _u("api.region", code=p.region), api=True, shows=lambda p: p.region)},
    "api.periods": {"GET": Call(lambda p: _u("api.periods", campaign_id=p.campaign), api=True, roles=ANYONE,
                                shows=lambda p: '"as_of"')},
    "api.campaign": {"GET": Call(lambda p: _u("api.campaign", campaign_id=p.campaign), api=True, roles=ANYONE,
                                 shows=lambda p: '"previous_id"')},
    "api.get_report": {"GET": Call(lambda p: _u("api.get_report", region_code=p.unit, period_id=p.period), api=True,
                                   shows=lambda p: p.unit)},
    "api.put_report": {"PUT": Call(lambda p: _u("api.put_report", region_code=p.unit, period_id=p.period), api=True,
                                   roles=WRITERS, write=True, json=lambda p: {"values": {"population": 3000}})},
    "api.region_progress": {"GET": Call(lambda p: _u("api.region_progress", region_code=p.region,
                                                         period=p.period), api=True, shows=lambda p: p.region)},
    "api.get_department_report": {"GET": Call(
        lambda p: _u("api.get_department_report", department_id=p.department, period_id=p.period), api=True,
        roles=DEPARTMENT_READERS, shows=lambda p: '"department_id"')},
    "api.put_department_report": {"PUT": Call(
        lambda p: _u("api.put_department_report", department_id=p.department, period_id=p.period), api=True,
        roles=DEPARTMENT_WRITERS, write=True, json=lambda p: {"values": {"hardship_should": 100}})},
    "departments.grid": {"GET": Call(lambda p: _u("departments.grid", department_id=p.department,
                                                  period_id=p.period),
                                     roles=DEPARTMENT_READERS, shows=lambda p: p.department_name)},
    "departments.save": {"POST": Call(lambda p: _u("departments.save", department_id=p.department,
                                                   period_id=p.period),
                                      roles=DEPARTMENT_WRITERS, write=True,
                                      data=lambda p: {"hardship_should": "100", "action": "save"})},
    "departments.history": {"GET": Call(lambda p: _u("departments.history", department_id=p.department,
                                                     period_id=p.period),
                                        roles=DEPARTMENT_READERS, shows=lambda p: "修改记录")},
    "departments.download": {"GET": Call(lambda p: _u("departments.download", department_id=p.department,
                                                      period_id=p.period),
                                         roles=DEPARTMENT_READERS, shows=lambda p: p.department_name)},
    "departments.upload": {
        "GET": Call(lambda p: _u("departments.upload", department_id=p.department, period_id=p.period),
                    roles=DEPARTMENT_WRITERS, shows=lambda p: "上传"),
        "POST": Call(lambda p: _u("departments.upload", department_id=p.department, period_id=p.period),
                     roles=DEPARTMENT_WRITERS, write=True, data=lambda p: {}),
    },
    "api.circular_pdf": {"GET": Call(lambda p: _u("api.circular_pdf", circular_id=p.circular), api=True,
                                     roles=ANYONE, shows=lambda p: "%PDF")},
    "api.circular_list": {"GET": Call(lambda p: _u("api.circular_list", region_code=p.region), api=True,
                                      roles=ANYONE, shows=lambda p: p.doc_number)},
    # 退回 and 审核: the level above the filer (the unit of the place has nothing submitted: 409 in scope)
    "api.return_report": {"POST": Call(lambda p: _u("api.return_report", region_code=p.unit, period_id=p.period),
                                       api=True, roles=REVIEWERS, write=True, json=lambda p: {"reason": "矩阵"})},
    "api.approve_report": {"POST": Call(lambda p: _u("api.approve_report", region_code=p.unit, period_id=p.period),
                                        api=True, roles=REVIEWERS, write=True, json=lambda p: {})},
    # a department's: the city admin above the region it sits at (the place's department has nothing submitted)
    "api.return_department_report": {"POST": Call(
        lambda p: _u("api.return_department_report", department_id=p.department, period_id=p.period), api=True,
        roles=ADMIN, write=True, json=lambda p: {"reason": "矩阵"})},
    "api.approve_department_report": {"POST": Call(
        lambda p: _u("api.approve_department_report", department_id=p.department, period_id=p.period), api=True,
        roles=ADMIN, write=True, json=lambda p: {})},
    # in bulk: the county's own grid is its own filing, which only the city reviews
    "api.review_all": {"POST": Call(lambda p: _u("api.review_all", region_code=p.grid, period_id=p.period),
                                    api=True, roles=ADMIN, write=True, json=lambda p: {"action": "approve"})},
    "api.send_reminders": {"POST": Call(lambda p: _u("api.send_reminders"), api=True, roles=REVIEWERS, write=True,
                                        json=lambda p: {"region_code": p.region, "period_id": p.period})},
    "api.list_reminders": {"GET": Call(lambda p: _u("api.list_reminders", region_code=p.region, period_id=p.period),
                                       api=True)},
    "review.show": {"GET": Call(lambda p: _u("review.show", code=p.region, period=p.period), shows=lambda p: p.name)},
    "review.act": {"POST": Call(lambda p: _u("review.act", code=p.grid, period_id=p.period, unit_code=p.unit),
                                roles=REVIEWERS, write=True, data=lambda p: {"action": "approve"})},
    "review.act_department": {"POST": Call(lambda p: _u("review.act_department", code=p.grid, period_id=p.period,
                                                        department_id=p.department),
                                           roles=ADMIN, write=True, data=lambda p: {"action": "approve"})},
    "review.act_all": {"POST": Call(lambda p: _u("review.act_all", code=p.grid, period_id=p.period), roles=ADMIN,
                                    write=True, data=lambda p: {"action": "approve"})},
    # 重新提交 of a returned unit (the unit of the place has none: a flash and back to the grid)
    "review.resubmit": {"POST": Call(lambda p: _u("review.resubmit", period_id=p.period, code=p.grid, unit_code=p.unit),
                                     roles=WRITERS, write=True, data=lambda p: {})},
    "review.webhook": {"POST": Call(lambda p: _u("review.webhook", user_id=p.user), roles=SETTINGS_ADMINS, write=True,
                                    data=lambda p: {"kind": "wecom", "url": "https://qyapi.weixin.qq.com/send?key=m"})},
    "review.reminder_list": {"GET": Call(lambda p: _u("review.reminder_list", code=p.region, period=p.period),
                                         shows=lambda p: p.name)},
    "review.reminder_preview": {"GET": Call(lambda p: _u("review.reminder_preview", code=p.region, period_id=p.period),
                                            roles=REVIEWERS, shows=lambda p: p.name)},
    "review.remind": {"POST": Call(lambda p: _u("review.remind", code=p.region, period_id=p.period),
                                   roles=REVIEWERS, write=True, data=lambda p: {})},
    # 督办: the level that reviews the unit issues, closes and sends back; the unit's own filer answers
    "supervision.index": {"GET": Call(lambda p: _u("supervision.index", code=p.region), shows=lambda p: p.name)},
    "supervision.ledger": {"GET": Call(lambda p: _u("supervision.ledger", code=p.region), shows=lambda p: p.name)},
    "supervision.new": {
        "GET": Call(lambda p: _u("supervision.new", unit=p.unit, period=p.period), roles=REVIEWERS,
                    shows=lambda p: "整改时限"),
        "POST": Call(lambda p: _u("supervision.new", unit=p.unit, period=p.period), roles=REVIEWERS, write=True,
                     data=lambda p: {"kind": "order", "matter": "矩阵", "due": "2022-10-30"}),
    },
    "supervision.show": {"GET": Call(lambda p: _u("supervision.show", item_id=p.item), shows=lambda p: "整改报告")},
    "supervision.attachment": {"GET": Call(lambda p: _u("supervision.attachment", attachment_id=p.attachment),
                                           shows=lambda p: "%PDF")},
    "supervision.respond": {"POST": Call(lambda p: _u("supervision.respond", item_id=p.item), roles=ANSWERERS,
                                         write=True, data=lambda p: {"text": "矩阵"})},
    "supervision.close": {"POST": Call(lambda p: _u("supervision.close", item_id=p.item), roles=REVIEWERS,
                                       write=True, data=lambda p: {})},
    "supervision.reopen": {"POST": Call(lambda p: _u("supervision.reopen", item_id=p.item), roles=REVIEWERS,
                                        write=True, data=lambda p: {"reason": "矩阵"})},
    "api.create_supervision": {"POST": Call(lambda p: _u("api.create_supervision"), api=True, roles=REVIEWERS,
                                            write=True, json=lambda p: {"region_code": p.unit, "period_id": p.period,
                                                                        "kind": "order", "matter": "矩阵",
                                                                        "due": "2022-10-30"})},
    "api.list_supervision": {"GET": Call(lambda p: _u("api.list_supervision", region_code=p.region), api=True,
                                         shows=lambda p: "督办〔2022〕")},
    "api.get_supervision": {"GET": Call(lambda p: _u("api.get_supervision", item_id=p.item), api=True,
                                        shows=lambda p: '"figures"')},
    "api.respond_supervision": {"POST": Call(lambda p: _u("api.respond_supervision", item_id=p.item), api=True,
                                             roles=ANSWERERS, write=True, json=lambda p: {"text": "矩阵"})},
    "api.close_supervision": {"POST": Call(lambda p: _u("api.close_supervision", item_id=p.item), api=True,
                                           roles=REVIEWERS, write=True, json=lambda p: {})},
    "api.reopen_supervision": {"POST": Call(lambda p: _u("api.reopen_supervision", item_id=p.item), api=True,
                                            roles=REVIEWERS, write=True, json=lambda p: {"reason": "矩阵"})},
}


def village_codes(code: str) -> list[str]:
    return list(db.session.scalars(descendants_at(region_by_code(code), "village")
                                   .with_only_columns(Region.code).order_by(Region.code)))


def add_user(username: str, role: str, region: str, full_name: str, phone: str) -> User:
    user = User(username=username, role=role, region=region_by_code(region), full_name=full_name, phone=phone)
    user.set_password(PASSWORD)
    db.session.add(user)
    db.session.flush()
    return user


def spare_token(user: User) -> int:
    token = ApiToken(user=user, digest=ApiToken.hash(secrets.token_urlsafe(32)), label="备用")
    db.session.add(token)
    db.session.flush()
    return token.id


def build_world(app, runner):
    """江门市 (village-level campaign) and 宿州市 (another), reports, circulars, users, tokens."""
    start, end = dt.date(2022, 9, 1), dt.date(2022, 12, 31)
    jiangmen, _ = create_campaign(name="江门市2023年度", root=region_by_code(CITY), start=start, end=end,
                                  extend_to=dt.date(2023, 2, 28), first_due=dt.date(2022, 10, 1))
    suzhou, _ = create_campaign(name="宿州市2023年度", root=region_by_code(SUZHOU), start=start, end=end,
                                first_due=dt.date(2022, 10, 1))
    db.session.flush()
    p_jm, p_sz = jiangmen.periods[0], suzhou.periods[0]

    own_unit = village_codes(SHADUI)[0]  # inside 沙堆镇 ⊂ 新会区 ⊂ 江门市: "own" for every role
    pj_unit, ym_unit, sz_unit = village_codes(PENGJIANG)[0], village_codes(YAMEN)[0], village_codes(LINGBI)[0]
    # Distinctive counts and signatures, filed where some roles must never see them.
    special = {pj_unit: ({**COUNTS, "population": 1234567, "should_enroll": 1100000, "enrolled": 987654},
                         {"name": "陈晓敏", "phone": "13802216101", "head": "蓬江局长"}),
               ym_unit: ({**COUNTS, "population": 900000, "should_enroll": 800000, "enrolled": 765432},
                         {"name": "关淑仪", "phone": "13902220105", "head": "崖门镇长"}),
               sz_unit: ({**COUNTS, "population": 1000000, "should_enroll": 900000, "enrolled": 876543},
                         {"name": "宿州填表员", "phone": "13955700001", "head": "灵璧局长"})}
    plain_filer = {"name": "黄丽华", "phone": "13802216103", "head": "张局长"}
    # Departments (条线): one of 新会区 with its filer, and three whose figures only some may read.
    hardship = ["hardship_should", "hardship_enrolled"]
    departments = {"own": add_department(jiangmen, "新会区民政局", hardship, region_by_code(XINHUI)),
                   "sibling": add_department(jiangmen, "新会区教育局", ["students_enrolled", "college_enrolled"],
                                             region_by_code(XINHUI)),
                   PENGJIANG: add_department(jiangmen, "蓬江区民政局", hardship, region_by_code(PENGJIANG)),
                   SUZHOU: add_department(suzhou, "灵璧县民政局", hardship, region_by_code(LINGBI))}
    for key, values in (("sibling", {"students_enrolled": 654321, "college_enrolled": 4321}),
                        (PENGJIANG, {"hardship_should": 543210, "hardship_enrolled": 543000}),
                        (SUZHOU, {"hardship_should": 432109, "hardship_enrolled": 432000})):
        department = departments[key]
        save_report(p_sz if key == SUZHOU else p_jm, department.region, values,
                    {"name": "部门填表员", "phone": "13800000009", "head": "部门局长"}, user=None, submit=True,
                    department=department)
    rows = [(n, code, *special.get(code, (COUNTS, plain_filer)))
            for n, code in enumerate(village_codes(XINHUI) + village_codes(PENGJIANG), start=1) if code != own_unit]
    import_reports(p_jm, rows, submit=True)
    import_reports(p_sz, [(n, code, *special.get(code, (COUNTS, plain_filer)))
                          for n, code in enumerate(village_codes(LINGBI), start=1)], submit=True)

    admin = add_user("jm_admin", "city_admin", CITY, "江门管理员", "0750-3501234")
    people = {"city_admin": admin,
              "viewer": add_user("jm_viewer", "viewer", CITY, "江门领导", "0750-3501235"),
              "county_filer": add_user("xinhui", "county_filer", XINHUI, "新会填表员", "13800000001"),
              "township_filer": add_user("shadui", "township_filer", SHADUI, "沙堆填表员", "13800000002"),
              "department_filer": add_user("minzheng", "department_filer", XINHUI, "民政填表员", "13800000004"),
              "system_admin": add_user("jm_system", "system_admin", CITY, "系统管理员", "0750-3501236"),
              "security_admin": add_user("jm_security", "security_admin", CITY, "安全管理员", "0750-3501237"),
              "audit_admin": add_user("jm_audit", "audit_admin", CITY, "审计管理员", "0750-3501238")}
    people["department_filer"].department = departments["own"]
    victim_own = add_user("victim_own", "viewer", XINHUI, "新会查看员", "13800000003")
    victim_pj = add_user("victim_pj", "county_filer", PENGJIANG, "陈晓敏", "13802216101")
    victim_sz = add_user("victim_sz", "county_filer", LINGBI, "宿州用户", "13955700002")

    items = {unit: create_supervision(creator, period, kind="order", matter="矩阵督办", due=dt.date(2022, 10, 30),
                                      region=region_by_code(unit)).id
             for unit, period, creator in ((own_unit, p_jm, admin), (pj_unit, p_jm, admin), (ym_unit, p_jm, admin),
                                           (sz_unit, p_sz, victim_sz))}
    files = {unit: respond_supervision(db.session.get(SupervisionItem, item), admin, "矩阵整改",
                                       attachments=[("整改.pdf", b"%PDF-1.4 matrix")],
                                       folder=app.config["SUPERVISION_FILES"]).attachments[0].id
             for unit, item in items.items()}
    circulars = {}
    for code, period in ((XINHUI, p_jm), (SHADUI, p_jm), (PENGJIANG, p_jm), (SUZHOU, p_sz)):
        issued = issue(new_draft(period, region_by_code(code), admin), admin)
        circulars[code] = (issued.id, issued.doc_number, new_draft(period, region_by_code(code), admin).id)
    db.session.commit()
    tokens = {role: runner.invoke(args=["users", "token", user.username]).stdout.strip().splitlines()[-1]
              for role, user in people.items()}

    def place(region, grid, unit, period, campaign, circular_of, user, token, department="own"):
        issued, number, draft = circulars[circular_of]
        return Place(region=region, grid=grid, unit=unit, period=period.id, campaign=campaign.id,
                     circular=issued, draft=draft, user=user.id, token=token, name=region_by_code(region).name,
                     doc_number=number, department=departments[department].id,
                     department_name=departments[department].name, item=items[unit],
                     attachment=files[unit])

    # Another region's things; its campaign is 宿州's for everyone, since 江门's is visible to every 江门 user.
    suzhou_place = place(SUZHOU, LINGBI, sz_unit, p_sz, suzhou, SUZHOU, victim_sz, spare_token(victim_sz), SUZHOU)
    pengjiang_place = place(PENGJIANG, PENGJIANG, pj_unit, p_jm, suzhou, PENGJIANG, victim_pj,
                            spare_token(victim_pj), PENGJIANG)
    yamen_place = place(YAMEN, YAMEN, ym_unit, p_jm, suzhou, PENGJIANG, victim_pj, spare_token(victim_pj), PENGJIANG)
    # the department filer's "other": a sibling department at the same 区, and every unit of the tree
    sibling_place = replace(pengjiang_place, department=departments["sibling"].id,
                            department_name=departments["sibling"].name)
    suzhou_marks = ("宿州", "灵璧县", "朱集镇", "宿医保", sz_unit, "876543", "876,543", "宿州填表员", "13955700001",
                    "432109", "432,109")
    pengjiang_marks = ("蓬江区", "蓬医保", pj_unit, "987654", "987,654", "陈晓敏", "13802216101", "蓬江局长",
                       "543210", "543,210")
    yamen_marks = ("崖门镇", ym_unit, "765432", "765,432", "关淑仪", "13902220105")
    sibling_marks = ("新会区教育局", "654321", "654,321", "沙堆镇", "黄丽华")
    identities = []
    for role, user in people.items():
        scope = {"city_admin": (CITY, XINHUI, XINHUI), "viewer": (CITY, XINHUI, XINHUI),
                 **{duty: (CITY, XINHUI, XINHUI) for duty in DUTY},
                 "county_filer": (XINHUI, XINHUI, XINHUI), "township_filer": (SHADUI, SHADUI, SHADUI),
                 "department_filer": (XINHUI, XINHUI, XINHUI)}[role]
        own = place(scope[0], scope[1], own_unit, p_jm, jiangmen, scope[2], victim_own, spare_token(user))
        other, foreign = {"city_admin": (suzhou_place, suzhou_marks), "viewer": (suzhou_place, suzhou_marks),
                          **{duty: (suzhou_place, suzhou_marks) for duty in DUTY},
                          "county_filer": (pengjiang_place, pengjiang_marks + suzhou_marks),
                          "township_filer": (yamen_place, yamen_marks + pengjiang_marks + suzhou_marks),
                          "department_filer": (sibling_place, sibling_marks + yamen_marks + pengjiang_marks
                                               + suzhou_marks)}[role]
        addressee = pengjiang_marks + suzhou_marks if role == "department_filer" else None
        identities.append(Identity(role, user.username, app.test_client(), tokens[role], own, other, foreign,
                                   addressee))
    db.session.commit()
    for who in identities:
        # Sanity: no foreign mark may be a name or code inside the user's own subtree (a department
        # filer has none: everything below the 区 it sits at is foreign to it).
        if who.role != "department_filer":
            own_names = set(db.session.scalars(select(Region.name).where(
                getattr(Region, f"{region_by_code(who.own.region).level}_id") == region_by_code(who.own.region).id)))
            assert not [m for m in who.foreign if m in own_names or m == who.own.unit]
        login(who)
    return identities, suzhou_marks + pengjiang_marks + yamen_marks + sibling_marks + ("江门", "新会", "沙堆", "黄丽华")


def login(who: Identity) -> None:
    g.pop("_login_user", None)
    answer = who.client.post("/login", data={"username": who.username, "password": PASSWORD})
    assert answer.status_code == 303, f"{who.username} could not sign in"


# --- reading answers ---------------------------------------------------------------------------

def answer_text(response) -> str:
    """What a person would read in the answer: the page, the JSON, or every cell of a workbook."""
    data = response.get_data()
    if data.startswith(b"PK") and zipfile.is_zipfile(io.BytesIO(data)):
        book = load_workbook(io.BytesIO(data))
        return "\n".join(str(c.value) for sheet in book.worksheets for row in sheet.iter_rows()
                         for c in row if c.value is not None)
    if data.startswith(b"%PDF"):
        return "%PDF"  # fonts are subset and text compressed: the signature is what we can check
    return data.decode("utf-8")


def request(who_client, method: str, call: Call, place: Place, htmx: bool, token: Optional[str],
            follow: bool = False):
    headers = {}
    if htmx:
        headers["HX-Request"] = "true"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    # Requests share the fixture's app context, hence its `g`, where flask-login caches the user of the
    # last request: forget it, so that each client is whoever its own session cookie says.
    g.pop("_login_user", None)
    kwargs = {"headers": headers, "follow_redirects": follow}
    if call.data:
        kwargs["data"] = call.data(place)
    if call.json:
        kwargs["json"] = call.json(place)
    return who_client.open(call.url(place), method=method, **kwargs)


@pytest.mark.parametrize("separated", [False, True], ids=["together", "separation_of_duties"])
def test_every_route_refuses_other_regions_and_anonymous(app, runner, jiangmen, anhui, frozen_now, tmp_path, separated):
    """With SEPARATION_OF_DUTIES off the city admin holds accounts and the audit log too; with it on,
    only the security admin and the audit admin do, and the three duty roles read no figures."""
    frozen_now(dt.datetime(2022, 10, 20, 10, 0))
    app.config["SEPARATION_OF_DUTIES"] = separated
    app.config["SUPERVISION_FILES"] = str(tmp_path / "supervision")
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static":
            routes.setdefault(rule.endpoint, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    untested = sorted(f"{endpoint} {method}" for endpoint, methods in routes.items() for method in methods
                      if method not in ROUTES.get(endpoint, {}))
    assert not untested, f"routes missing from the access matrix ROUTES: {untested}"
    stale = sorted(f"{e} {m}" for e, methods in ROUTES.items() for m in methods if m not in routes.get(e, ()))
    assert not stale, f"ROUTES lists routes the app no longer has: {stale}"

    identities, every_mark = build_world(app, runner)
    anonymous = app.test_client()
    failures = []

    def check(condition: bool, what: str):
        if not condition:
            failures.append(what)

    for endpoint, methods in sorted(ROUTES.items()):
        for method, call in sorted(methods.items()):
            variants = (False,) if call.api else (False, True)
            for htmx in variants:
                label = f"{method} {endpoint}{' (htmx)' if htmx else ''}"
                # anonymous: 401 for the API, the login page for the rest, and no data either way
                answer = request(anonymous, method, call, identities[0].own, htmx, None)
                text = answer_text(answer)
                if call.public:
                    check(answer.status_code == 200, f"{label} anonymous: {answer.status_code}")
                elif call.api:
                    check(answer.status_code == 401 and HAN.search(answer.get_json()["errors"][0]["message"]),
                          f"{label} anonymous: {answer.status_code}")
                elif htmx:  # a 401 the page shows (a redirect would be followed out of sight)
                    check(answer.status_code == 401 and bool(HAN.search(text)),
                          f"{label} anonymous: {answer.status_code}")
                else:
                    check(answer.status_code == 302 and answer.location.startswith("/login"),
                          f"{label} anonymous: {answer.status_code} {answer.location}")
                leaked = [m for m in every_mark if m in text]
                check(not leaked, f"{label} anonymous sees {leaked}")

                for who in identities:
                    token = who.token if call.api else None
                    # the API never takes the session cookie for a token
                    if call.api:
                        bare = request(who.client, method, call, who.own, False, None)
                        check(bare.status_code == 401, f"{label} {who.role} without token: {bare.status_code}")
                    scopes = [("own", who.own)] + ([("other", who.other)] if call.scoped else [])
                    for scope, place in scopes:
                        where = f"{label} {who.role} {scope}"
                        answer = request(who.client, method, call, place, htmx, token, follow=scope == "other")
                        status, text = answer.status_code, answer_text(answer)
                        check(status < 500, f"{where}: {status}")
                        foreign = (who.foreign_to_addressee or who.foreign) if call.addressed else who.foreign
                        leaked = [m for m in foreign if m in text]
                        check(not leaked, f"{where} shows {leaked}")
                        if status >= 400:
                            message = answer.get_json()["errors"][0]["message"] if call.api else text
                            check(bool(HAN.search(message)), f"{where}: {status} without a Chinese message")
                        roles = call.separated if separated and call.separated is not None else call.roles
                        if who.role not in roles:
                            check(status == 403, f"{where}: {status}, not 403 for this role")
                        elif scope == "other":
                            check(status in call.refused, f"{where}: {status}, not refused")
                        elif call.write:
                            check(status in SUCCESS | {409, 422}, f"{where}: {status}, refused in scope")
                        else:
                            check(status in SUCCESS, f"{where}: {status}, refused in scope")
                            if call.shows and not htmx and status == 200:
                                shown = call.shows(place)
                                check(shown in text, f"{where}: the answer does not show {shown!r}")
                        if status in (302, 303) and scope == "own" and not call.relogin:
                            check(not answer.location.startswith("/login"), f"{where}: sent to log in")
                        if call.relogin:
                            login(who)
    assert not failures, f"{len(failures)} access failures:\n" + "\n".join(failures)


# --- CSRF --------------------------------------------------------------------------------------

def hidden_token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                     r'type="hidden" name="csrf_token" value="([^"]+)"|'
                     r'name="csrf_token" value="([^"]+)"', html).group(0).rsplit('value="', 1)[1].rstrip('"')


def header_token(html: str) -> str:
    return re.search(r"<body hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'>", html).group(1)


def test_state_changes_need_the_csrf_token(app, runner, jiangmen, frozen_now):
    """With CSRF on (as in production), a POST without the token, form field or htmx header, is 400."""
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
    add_user("xinhui", "county_filer", XINHUI, "新会填表员", "13800000001")
    db.session.commit()
    token = runner.invoke(args=["users", "token", "xinhui"]).stdout.strip().splitlines()[-1]
    period, unit = campaign.periods[0], village_codes(XINHUI)[0]
    config = {k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "TESTING")}
    guarded = create_app({**config, "WTF_CSRF_ENABLED": True, "SESSION_COOKIE_SECURE": False,
                          "RATELIMIT_ENABLED": False})
    try:
        client = guarded.test_client()
        login_page = client.get("/login").get_data(as_text=True)
        refused = client.post("/login", data={"username": "xinhui", "password": PASSWORD})
        assert refused.status_code == 400 and "请求有误" in refused.get_data(as_text=True)
        signed_in = client.post("/login", data={"username": "xinhui", "password": PASSWORD,
                                                "csrf_token": hidden_token(login_page)})
        assert signed_in.status_code == 303

        grid_url = f"/filing/{period.id}/{XINHUI}"
        page = client.get(grid_url).get_data(as_text=True)
        cell_url = f"{grid_url}/units/{unit}"

        def reports() -> int:
            return db.session.scalar(select(func.count(Report.id)))
        forged = client.post(cell_url, data={"enrolled": "1500"}, headers={"HX-Request": "true"})
        assert forged.status_code == 400 and "请求有误" in forged.get_data(as_text=True)
        assert reports() == 0  # nothing saved
        saved = client.post(cell_url, data={"enrolled": "1500"},
                            headers={"HX-Request": "true", "X-CSRFToken": header_token(page)})
        assert saved.status_code == 200 and reports() == 1

        # a plain form (退出) carries the token as a hidden field
        assert client.post("/logout").status_code == 400
        assert client.get(grid_url).status_code == 200  # still signed in
        out = client.post("/logout", data={"csrf_token": hidden_token(page)})
        assert out.status_code == 303 and client.get(grid_url).status_code == 302

        # the API authenticates with its bearer token instead: no CSRF token needed, nor accepted as a login
        put = client.put(f"/api/v1/reports/{unit}/{period.id}", json={"values": {"enrolled": 1600}},
                         headers={"Authorization": f"Bearer {token}"})
        assert put.status_code == 200 and put.get_json()["values"]["enrolled"] == 1600
    finally:
        with guarded.app_context():
            db.engine.dispose()


def test_only_reviewers_chase_and_see_the_review_buttons(app, client, runner, jiangmen, frozen_now):
    """A county that files every unit itself reviews nobody: it may not 催报 (page or API) and its
    dashboard offers neither 报表审核 nor 催报; once a township of it files, it reviews and chases."""
    from .conftest import make_user, two_counties_filed
    campaign = two_counties_filed(jiangmen, frozen_now)
    period = campaign.periods[1]
    make_user("xinhui", "county_filer", XINHUI)
    token = runner.invoke(args=["users", "token", "xinhui"]).stdout.strip().splitlines()[-1]
    client.post("/login", data={"username": "xinhui", "password": PASSWORD})
    refused = client.post(f"/reminders/{XINHUI}/{period.id}")
    assert refused.status_code == 403
    api = client.post("/api/v1/reminders", json={"region_code": XINHUI, "period_id": period.id},
                      headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 403 and "催报" in api.get_json()["errors"][0]["message"]
    from reporting.models import Reminder
    assert db.session.scalar(select(func.count()).select_from(Reminder)) == 0
    page = client.get(f"/dashboard/{XINHUI}?period={period.id}").get_data(as_text=True)
    assert "报表审核" not in page and "一键催报" not in page and "/reminders/" not in page

    make_user("shadui", "township_filer", SHADUI)  # 沙堆镇 now files its villages: 新会区 reviews them
    page = client.get(f"/dashboard/{XINHUI}?period={period.id}").get_data(as_text=True)
    assert "报表审核" in page and "一键催报" in page
    assert client.post(f"/reminders/{XINHUI}/{period.id}").status_code == 303


def test_a_viewer_reads_a_department_report_on_the_page_as_in_the_api(app, client, runner, jiangmen, frozen_now):
    """Viewers read what lies in their subtree, on both paths: a department's page is read-only for them."""
    from .conftest import make_user, two_counties_filed
    campaign = two_counties_filed(jiangmen, frozen_now)
    department = add_department(campaign, "新会区民政局", ["hardship_should", "hardship_enrolled"],
                                region_by_code(XINHUI))
    db.session.commit()
    make_user("boss", "viewer", CITY)
    token = runner.invoke(args=["users", "token", "boss"]).stdout.strip().splitlines()[-1]
    period = campaign.periods[0]
    api = client.get(f"/api/v1/departments/{department.id}/reports/{period.id}",
                     headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    client.post("/login", data={"username": "boss", "password": PASSWORD})
    page = client.get(f"/departments/{department.id}/{period.id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "新会区民政局" in text and "只读" in text
    assert "上传Excel" not in text and 'value="submit"' not in text
    assert client.get(f"/departments/{department.id}/{period.id}/history").status_code == 200
    assert client.post(f"/departments/{department.id}/{period.id}",
                       data={"hardship_should": "100", "action": "save"}).status_code == 403
