"""Who may see and touch what: one check, on the user's region subtree and role, deny by default."""
from __future__ import annotations

from typing import Optional

from werkzeug.exceptions import Forbidden

from .models import WRITER_ROLES, Department, Region, User


def can_view(user: Optional[User], region: Region) -> bool:
    # a department filer sees its own department only, never a unit of the tree
    return bool(user and user.is_authenticated and user.active and user.role != "department_filer"
                and user.region.contains(region))


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
    if not (user and user.is_authenticated and user.active):
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


def can_manage_campaign(user: Optional[User], campaign) -> bool:
    """A city admin whose region holds the campaign's root sets the campaign up (next year's too)."""
    return is_admin(user) and user.region.contains(campaign.root)


#: roles that review reports filed below them (退回, 审核, 催报)
REVIEWER_ROLES = {"city_admin", "county_filer"}


def _delegated(user: User, region: Region) -> bool:
    """Whether a township filer under the county user's region files `region` (the county then reviews)."""
    from sqlalchemy import select

    from .extensions import db
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


def can_review_department(user: Optional[User], department: Department) -> bool:
    """A department's reviewer is the level above it: a city admin whose region holds the region it
    sits at (the 区医保局 its figures go to). Its own filer never reviews it."""
    return bool(user and user.is_authenticated and user.active and user.role == "city_admin"
                and user.region.contains(department.region))


def can_remind(user: Optional[User], region: Region) -> bool:
    """催报: a reviewer chases the units under their own region."""
    return can_view(user, region) and user.role in REVIEWER_ROLES


def can_read_circular(user: Optional[User], circular) -> bool:
    """An issued 通报 is addressed to every unit under its region; its region and those above read it too."""
    if not (user and user.is_authenticated and user.active):
        return False
    if can_view(user, circular.region):
        return True
    return circular.status == "issued" and circular.region.contains(user.region)
