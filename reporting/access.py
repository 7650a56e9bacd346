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
