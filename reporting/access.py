"""Who may see and touch what: one check, on the user's region subtree and role, deny by default."""
from __future__ import annotations

from typing import Optional

from werkzeug.exceptions import Forbidden

from reporting.models import DUTY_ROLES, WRITER_ROLES, Department, Region, User

# --- 三员分立: who administers what (等保2.0 三级) ------------------------------------------------
#: regions, campaigns' settings, holidays and the 催报 robots
SETTINGS = "settings"
#: accounts and their roles, unlocking, password resets, ending sessions
ACCOUNTS = "accounts"
#: reading and exporting the audit log
AUDIT = "audit"

#: the one table of administrative capabilities, with SEPARATION_OF_DUTIES off and on. The three
#: duty roles hold one each either way; with the setting on, the city admin keeps the business
#: (campaigns' figures, review, 通报, 催报) and the settings, but no longer accounts or the audit log.
CAPABILITIES = {
    False: {"city_admin": {SETTINGS, ACCOUNTS, AUDIT}, "system_admin": {SETTINGS},
            "security_admin": {ACCOUNTS}, "audit_admin": {AUDIT}},
    True: {"city_admin": {SETTINGS}, "system_admin": {SETTINGS},
           "security_admin": {ACCOUNTS}, "audit_admin": {AUDIT}},
}


def separation_of_duties() -> bool:
    """Whether SEPARATION_OF_DUTIES is on for this app (off by default and in the demo)."""
    from flask import current_app, has_app_context
    return bool(has_app_context() and current_app.config.get("SEPARATION_OF_DUTIES"))


def capabilities(user: Optional[User]) -> set[str]:
    if not (user and user.is_authenticated and user.active):
        return set()
    return CAPABILITIES[separation_of_duties()].get(user.role, set())


def can(user: Optional[User], capability: str) -> bool:
    """Whether the user administers `capability` (SETTINGS, ACCOUNTS or AUDIT)."""
    return capability in capabilities(user)


#: what a refusal says, per capability
REFUSALS = {SETTINGS: "修改系统设置", ACCOUNTS: "管理用户", AUDIT: "查阅审计日志"}


def require_capability(user: Optional[User], capability: str) -> None:
    """Raise 403 unless the user administers `capability`; the message names who may."""
    if not can(user, capability):
        from reporting.models import ROLES
        holders = [ROLES[role] for role, held in CAPABILITIES[separation_of_duties()].items() if capability in held]
        raise Forbidden(f"只有{'或'.join(holders)}可以{REFUSALS[capability]}")


def in_business(user: Optional[User]) -> bool:
    """A signed-in, active user of the business: not one of the three duty roles."""
    return bool(user and user.is_authenticated and user.active and user.role not in DUTY_ROLES)


def require_business(user: Optional[User]) -> None:
    """Raise 403 for the three duty roles, which read none of the campaigns' figures."""
    if not in_business(user):
        raise Forbidden("系统管理员、安全管理员和审计管理员不查看参保数据")


def can_view(user: Optional[User], region: Region) -> bool:
    # a department filer sees its own department only, never a unit of the tree; the three duty
    # roles administer the site and read none of its figures. By the stored ancestor ids: the user's
    # own region need not be loaded.
    return (in_business(user) and user.role != "department_filer" and user.region_id is not None
            and region.lies_in(user.region_id))


def can_file(user: Optional[User], region: Region) -> bool:
    return can_view(user, region) and user.role in WRITER_ROLES


def require(user: Optional[User], region: Region, write: bool = False) -> None:
    """Raise 403 unless the user may read (or write) this region."""
    allowed = can_file(user, region) if write else can_view(user, region)
    if not allowed:
        # the region is not named: a refusal must not tell what lies behind a code outside one's subtree
        raise Forbidden(f"无权{'填报' if write else '查看'}该区划的数据")


def can_view_department(user: Optional[User], department: Department) -> bool:
    """Its own filer, and whoever sees the region it sits at (the 区 that supervises it)."""
    if not in_business(user):
        return False
    if user.role == "department_filer":
        return user.department_id == department.id
    return user.region.contains(department.region)


def can_file_department(user: Optional[User], department: Department) -> bool:
    """Its own filer, and a city admin above it; no unit of the tree files a department's figures."""
    if not can_view_department(user, department):
        return False
    return user.role == "department_filer" or user.role == "city_admin"


def require_department(user: Optional[User], department: Department, write: bool = False) -> None:
    """Raise 403 unless the user may read (or write) this department's reports."""
    allowed = can_file_department(user, department) if write else can_view_department(user, department)
    if not allowed:
        raise Forbidden(f"无权{'填报' if write else '查看'}该部门的数据")


def is_admin(user: Optional[User]) -> bool:
    return bool(user and user.is_authenticated and user.role == "city_admin")


def can_load_system_figures(user: Optional[User], root: Region) -> bool:
    """The information system's figures of a campaign are loaded by a 管理员 whose region holds the
    campaign's root (they concern every unit of it)."""
    return is_admin(user) and user.active and user.region.contains(root)


def can_manage_campaign(user: Optional[User], campaign) -> bool:
    """A city admin whose region holds the campaign's root sets the campaign up (next year's too)."""
    return is_admin(user) and user.region.contains(campaign.root)


#: roles that review reports filed below them (退回, 审核, 催报)
REVIEWER_ROLES = {"city_admin", "county_filer"}


def _delegated(user: User, region: Region) -> bool:
    """Whether a township filer under the county user's region files `region` (the county then reviews)."""
    from sqlalchemy import select

    from reporting.extensions import db
    township_id = region.id if region.level == "township" else region.township_id
    if township_id is None or township_id == user.region_id:
        return False
    return db.session.scalar(select(User.id).where(User.region_id == township_id, User.active.is_(True),
                                                   User.role == "township_filer").limit(1)) is not None


def can_review(user: Optional[User], region: Region) -> bool:
    """The level above the filer reviews: the city for its counties' units, a county for the units
    its townships file. Nobody reviews their own unit."""
    if not can_view(user, region) or user.role not in REVIEWER_ROLES or user.region_id == region.id:
        return False
    if user.role == "city_admin":
        return True
    return _delegated(user, region)


def can_review_under(user: Optional[User], region: Region) -> bool:
    """Whether the user reviews the units under `region` (a bulk 退回/审核, or a 催报 of its children)."""
    if not can_view(user, region) or user.role not in REVIEWER_ROLES:
        return False
    if user.role == "city_admin":
        return True
    return user.region_id != region.id and _delegated(user, region)


def reviewing_unit(region: Region) -> Optional[Region]:
    """The unit whose reviewer reopens what `region`'s filer filed (退回): the level above it."""
    return region.parent


def can_review_department(user: Optional[User], department: Department) -> bool:
    """A department's reviewer is the level above it: a city admin whose region holds the region it
    sits at (the 区医保局 its figures go to). Its own filer never reviews it."""
    return bool(user and user.is_authenticated and user.active and user.role == "city_admin"
                and user.region.contains(department.region))


def _delegates_under(user: User, region: Region) -> bool:
    """Whether a township filer files some units under `region` for the county user (the county
    then reviews them): a township of `region`, `region` itself, or the township holding it."""
    from sqlalchemy import select

    from reporting.extensions import db
    if region.level in ("township", "village"):
        return _delegated(user, region)
    return db.session.scalar(
        select(User.id).join(Region, Region.id == User.region_id)
        .where(getattr(Region, f"{region.level}_id") == region.id, Region.level == "township",
               Region.id != user.region_id, User.active.is_(True), User.role == "township_filer")
        .limit(1)) is not None


def can_remind(user: Optional[User], region: Region) -> bool:
    """催报: only a reviewer chases, the units under `region` it reviews: a city admin, or a county
    whose townships file (a county that files every unit itself reviews nobody, and chases nobody)."""
    if not can_view(user, region) or user.role not in REVIEWER_ROLES:
        return False
    return user.role == "city_admin" or _delegates_under(user, region)


def can_read_circular(user: Optional[User], circular) -> bool:
    """An issued 通报 is addressed to every unit under its region; its region and those above read it too."""
    if not in_business(user):
        return False
    if can_view(user, circular.region):
        return True
    return circular.status == "issued" and circular.region.contains(user.region)


# --- 督办 (supervision items): the reviewing level issues, the unit's own filers answer ----------

def can_supervise(user: Optional[User], region: Optional[Region] = None,
                  department: Optional[Department] = None) -> bool:
    """Who may create, close (销号) and send back (退回重新整改) a supervision item about a unit or
    a department: the level that reviews its reports, the one that may 退回 them."""
    if department is not None:
        return can_review_department(user, department)
    return region is not None and can_review(user, region)


def can_answer_supervision(user: Optional[User], item) -> bool:
    """The 整改报告 comes from the unit itself: a filer of its unit (or its department's filer), never
    the level that reviews it."""
    if not (user and user.is_authenticated and user.active):
        return False
    if item.department_id is not None:
        return user.role == "department_filer" and user.department_id == item.department_id
    return can_file(user, item.region) and not can_review(user, item.region)


def can_read_supervision(user: Optional[User], item) -> bool:
    """Whoever sees the unit (or the department) reads the items about it."""
    if item.department_id is not None:
        return can_view_department(user, item.department)
    return can_view(user, item.region)
