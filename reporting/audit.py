"""The audit log: every write is added to it in the same transaction as the write itself."""
from __future__ import annotations

from typing import Any, Optional

from . import clock
from .extensions import db
from .models import AuditEntry, Region, User

KINDS = {
    "report.save": "保存报表", "report.submit": "提交报表", "report.correct": "修改已提交报表",
    "report.resubmit": "退回后重新提交", "report.return": "退回报表", "report.approve": "审核通过",
    "reports.return": "批量退回", "reports.approve": "批量审核通过", "reports.publish": "通报锁定报表",
    "reminder.send": "催报", "webhook.update": "设置群机器人",
    "reports.import": "批量导入报表", "targets.import": "导入任务数", "campaign.create": "建立征缴期",
    "campaign.update": "修改征缴期设置", "campaign.next": "建立下一年度征缴期",
    "campaign.link_previous": "关联上一年度征缴期", "department.create": "建立部门", "holiday.update": "调整节假日",
    "period.reschedule": "调整报送截止日期",
    "user.create": "建立用户", "user.update": "修改用户", "user.password": "修改密码",
    "token.create": "生成API令牌", "token.revoke": "撤销API令牌", "circular.issue": "印发通报",
    "login.success": "登录成功", "login.failure": "登录失败", "logout": "退出登录",
    "logout.others": "退出其他设备",
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
                              before=_small(before), after=_small(after), ip=_ip()))


#: the longest text an audit entry keeps of one value; the full text lives where it belongs (a revision)
TEXT_KEPT = 500


def _small(value: Any) -> Any:
    """The value with every long text cut short, so that an entry and the audit page stay small."""
    if isinstance(value, str):
        return value if len(value) <= TEXT_KEPT else value[:TEXT_KEPT] + "…"
    if isinstance(value, dict):
        return {k: _small(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_small(v) for v in value]
    return value


#: the words of the entries' before and after, as the audit page shows them (keys and coded values)
WORDS = {
    "active": "启用", "by": "方式", "start": "开始日期", "end": "结束日期", "extend_to": "延长至",
    "full_name": "姓名", "issue_no": "期数", "label": "用途", "period": "期次", "periods": "期次数",
    "phone": "联系电话", "reason": "修改原因", "region": "区划", "report_level": "填报层级",
    "rhythm": "报送节奏", "role": "角色", "status": "状态", "target_rate": "目标参保率", "title": "标题",
    "tokens_revoked": "撤销API令牌数", "ended": "退出设备数", "units": "单位",
    "semimonthly": "半月报", "weekly": "周报", "submitted": "已提交", "draft": "草稿",
    "campaign": "征缴期", "indicators": "填报指标", "measure": "考核指标", "department": "部门",
    "auto_remind_hours": "截止前自动催报小时数", "url": "地址", "returned": "已退回", "approved": "已审核",
}


def describe(value: Any) -> str:
    """An entry's before or after in Chinese words: 键：值；… (an indicator by its name)."""
    from .indicators import DEFAULT_FORM
    from .models import LEVEL_NAMES, ROLES
    words = {**WORDS, **LEVEL_NAMES, **ROLES, **{key: label for key, label, _ in DEFAULT_FORM}}

    def say(item: Any) -> str:
        if item is None:
            return "空"
        if isinstance(item, bool):
            return "是" if item else "否"
        if isinstance(item, dict):
            return "；".join(f"{words.get(k, k)}：{say(v)}" for k, v in item.items())
        if isinstance(item, list):
            return "、".join(say(v) for v in item)
        return words.get(item, str(item)) if isinstance(item, str) else str(item)
    return "" if value is None else say(value)
