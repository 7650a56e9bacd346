"""The audit log: every write is added to it in the same transaction as the write itself."""
from __future__ import annotations

from typing import Any, Optional

from . import clock
from .extensions import db
from .models import AuditEntry, Region, User

KINDS = {
    "report.save": "保存报表", "report.submit": "提交报表", "report.correct": "修改已提交报表",
    "reports.import": "批量导入报表", "targets.import": "导入任务数", "campaign.create": "建立征缴期",
    "campaign.update": "修改征缴期设置", "department.create": "建立部门", "holiday.update": "调整节假日",
    "user.create": "建立用户", "user.update": "修改用户", "user.password": "修改密码",
    "token.create": "生成API令牌", "token.revoke": "撤销API令牌", "circular.issue": "印发通报",
    "login.success": "登录成功", "login.failure": "登录失败", "logout": "退出登录",
}


def _ip() -> str:
    # Domain code is called from the CLI too; only a web request has an address.
    from flask import has_request_context, request
    return (request.remote_addr or "") if has_request_context() else ""


def record(kind: str, user: Optional[User], *, region: Optional[Region] = None, target: str = "",
           before: Optional[dict[str, Any]] = None, after: Optional[dict[str, Any]] = None,
           username: Optional[str] = None) -> None:
    db.session.add(AuditEntry(at=clock.now(), user_id=user.id if user else None,
                              username=username if username is not None else (user.username if user else ""),
                              kind=kind, region_id=region.id if region else None, target=target[:200],
                              before=before, after=after, ip=_ip()))
