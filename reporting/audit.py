"""The audit log: every write is added to it in the same transaction as the write itself.

Each entry carries a SHA-256 of its content and of the entry before it (a hash chain), so that a
row changed or removed behind the application's back is found by `flask audit verify`. The
application only ever appends: no code path updates or deletes an entry.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Iterator, Optional

from sqlalchemy import event, or_, select, text
from sqlalchemy.orm import Session

from reporting import clock
from reporting.extensions import db
from reporting.models import AuditEntry, Region, User

KINDS = {
    "report.save": "保存报表", "report.submit": "提交报表", "report.correct": "修改已提交报表",
    "report.resubmit": "退回后重新提交", "report.return": "退回报表", "report.approve": "审核通过",
    "reports.return": "批量退回", "reports.approve": "批量审核通过", "reports.publish": "通报锁定报表",
    "reminder.send": "催报", "webhook.update": "设置群机器人",
    "reports.import": "批量导入报表", "system_figures.import": "导入信息系统数据", "targets.import": "导入任务数", "campaign.create": "建立征缴期",
    "campaign.update": "修改征缴期设置", "campaign.next": "建立下一年度征缴期",
    "campaign.link_previous": "关联上一年度征缴期", "department.create": "建立部门", "holiday.update": "调整节假日",
    "period.reschedule": "调整报送截止日期",
    "user.create": "建立用户", "user.update": "修改用户", "user.password": "修改密码",
    "token.create": "生成API令牌", "token.revoke": "撤销API令牌", "circular.issue": "印发通报",
    "circular.regenerate": "按最新数据重新生成通报", "issuer.update": "设置发文机关",
    "login.success": "登录成功", "login.failure": "登录失败", "logout": "退出登录",
    "logout.others": "退出其他设备", "login.locked": "连续登录失败，账号锁定", "user.unlock": "解锁账号",
    "user.sessions_end": "强制退出登录", "audit.read": "查阅审计日志", "audit.export": "导出审计日志",
    "supervision.create": "建立督办事项", "supervision.respond": "报送整改报告", "supervision.close": "督办销号",
    "supervision.reopen": "退回重新整改",
}

#: the digest the first entry is chained to
GENESIS = "0" * 64
#: PostgreSQL advisory lock taken (until commit) by a transaction that appends to the chain
CHAIN_LOCK = 0x61756474  # "audt"
#: entries are kept at least this long (网络安全法 第二十一条: 不少于六个月); nothing here deletes one
RETENTION_DAYS = 180


def _ip() -> str:
    # Domain code is called from the CLI too; only a web request has an address.
    from flask import has_request_context, request
    return (request.remote_addr or "") if has_request_context() else ""


def record(kind: str, user: Optional[User], *, region: Optional[Region] = None, target: str = "",
           before: Optional[dict[str, Any]] = None, after: Optional[dict[str, Any]] = None,
           username: Optional[str] = None) -> None:
    entry = AuditEntry(at=clock.now(), user_id=user.id if user else None,
                       username=username if username is not None else (user.username if user else ""),
                       kind=kind, region_id=region.id if region else None, target=target[:200],
                       before=_small(before), after=_small(after), ip=_ip())
    entry.digest = entry_digest(_head(), entry)
    # inserted now, in the order of the chain, rather than by the session's next flush: nothing reads
    # the entry back, and the unit of work's handling of it cost more than the INSERT (a row save
    # writes one with every keystroke)
    db.session.execute(_INSERT, {column: getattr(entry, column) for column in _COLUMNS})
    db.session.info["audit_head"] = entry.digest


#: every column an entry is written with (all but its id)
_COLUMNS = [column.key for column in AuditEntry.__table__.columns if column.key != "id"]
_INSERT = AuditEntry.__table__.insert()


def entry_digest(previous: str, entry: AuditEntry) -> str:
    """SHA-256 of the entry's content and the previous entry's digest (the link)."""
    at = entry.at.replace(microsecond=0).isoformat(sep=" ") if isinstance(entry.at, dt.datetime) else str(entry.at)
    content = [previous, at, entry.user_id, entry.username or "", entry.kind, entry.region_id,
               entry.target or "", entry.before, entry.after, entry.ip or ""]
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _head() -> str:
    """The digest of the last entry, read once per transaction after taking the chain's lock, so
    that two writers at once never chain to the same entry (a fork)."""
    session = db.session
    if "audit_head" in session.info:
        return session.info["audit_head"]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    else:
        # SQLite begins a write transaction at the first write: make this it, so that the last
        # entry read below cannot change before ours is inserted (another writer waits)
        session.execute(text("UPDATE audit_entry SET id = id WHERE 0"))
    session.flush()  # the writes pending go first, as they did when this read went through the ORM
    last = session.scalar(_LAST_DIGEST)
    session.info["audit_head"] = last or GENESIS
    return session.info["audit_head"]


_LAST_DIGEST = select(AuditEntry.__table__.c.digest).order_by(AuditEntry.__table__.c.id.desc()).limit(1)


@event.listens_for(Session, "after_transaction_end")
def _forget_head(session, transaction) -> None:
    # the head read belongs to the transaction (and its lock); a savepoint rolled back may drop entries
    session.info.pop("audit_head", None)


def verify(rows: Optional[Iterator[AuditEntry]] = None) -> tuple[int, Optional[int]]:
    """Walk the chain in id order: the number of entries checked, and the id of the first whose
    content or link does not match (None when all do)."""
    if rows is None:
        result = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000))
        try:  # a server-side cursor on PostgreSQL: closed even when the walk stops early
            return verify(result)
        finally:
            result.close()
    previous, count = GENESIS, 0
    for entry in rows:
        count += 1
        if entry.digest is None or entry.digest != entry_digest(previous, entry):
            return count, entry.id
        previous = entry.digest
    return count, None


def scope(reader: User):
    """The entries a reader of the log sees: those about a region of their subtree, and of those
    about no region, the ones by its users and the site's own (a failed login under an unknown
    name, a command without a region)."""
    top = reader.region
    column = Region.id if top.level == "village" else getattr(Region, f"{top.level}_id")
    regions = select(Region.id).where(column == top.id)
    return select(AuditEntry).where(or_(
        AuditEntry.region_id.in_(regions),
        AuditEntry.region_id.is_(None) & or_(
            AuditEntry.user_id.is_(None),
            AuditEntry.user_id.in_(select(User.id).where(User.region_id.in_(regions))))))


def filtered(query, *, since: Optional[dt.date] = None, until: Optional[dt.date] = None,
             username: str = "", kind: str = ""):
    """The log narrowed by days (both included), user name and kind of entry."""
    if since:
        query = query.where(AuditEntry.at >= dt.datetime.combine(since, dt.time()))
    if until and until < dt.date.max:  # 9999-12-31 bounds nothing
        query = query.where(AuditEntry.at < dt.datetime.combine(until + dt.timedelta(days=1), dt.time()))
    if username:
        query = query.where(AuditEntry.username == username)
    if kind:
        query = query.where(AuditEntry.kind == kind)
    return query


def detail(entry: AuditEntry) -> str:
    """What an entry says beyond its kind, in words: its target, and before → after."""
    parts = [entry.target or ""]
    if entry.before is not None:
        parts.append(f"原：{describe(entry.before)}")
    if entry.after is not None:
        parts.append(f"{'新' if entry.before is not None else ''}：{describe(entry.after)}".lstrip("："))
    return "；".join(p for p in parts if p)


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
    "basis": "口径", "reported": "以填报数据为准", "system": "以信息系统数据为准",
    "system_share": "与信息系统差异比例", "system_people": "与信息系统差异人数", "replaced": "替换单位数",
    "locked": "账号已锁定", "locked_until": "锁定至", "filter": "筛选条件", "count": "条数", "since": "起始日期",
    "until": "截止日期", "user": "用户", "kind": "类型", "action": "类型",
    "matter": "督办事项", "due": "整改时限", "text": "整改情况", "attachments": "附件数",
}


def describe(value: Any) -> str:
    """An entry's before or after in Chinese words: 键：值；… (an indicator by its name)."""
    from reporting.indicators import DEFAULT_FORM
    from reporting.models import LEVEL_NAMES, ROLES
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
