"""Who may see and touch what: one check, on the user's region subtree and role, deny by default."""
from __future__ import annotations

from typing import Optional

from werkzeug.exceptions import Forbidden

from .models import WRITER_ROLES, Region, User


def can_view(user: Optional[User], region: Region) -> bool:
    return bool(user and user.is_authenticated and user.active and user.region.contains(region))


def can_file(user: Optional[User], region: Region) -> bool:
    return can_view(user, region) and user.role in WRITER_ROLES


def require(user: Optional[User], region: Region, write: bool = False) -> None:
    """Raise 403 unless the user may read (or write) this region."""
    allowed = can_file(user, region) if write else can_view(user, region)
    if not allowed:
        # the region is not named: a refusal must not tell what lies behind a code outside one's subtree
        raise Forbidden(f"无权{'填报' if write else '查看'}该区划的数据")


def is_admin(user: Optional[User]) -> bool:
    return bool(user and user.is_authenticated and user.role == "city_admin")
