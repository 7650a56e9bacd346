"""The `flask` command groups of API.md and what their commands share; each feature's cli.py adds its
commands to these groups. Every command fails with a one-line reason and leaves nothing half-written."""
from __future__ import annotations

import datetime as dt
import sys
from contextlib import contextmanager

import click
from flask import Flask
from flask.cli import AppGroup

from reporting import audit
from reporting.extensions import db
from reporting.models import Campaign, User
from reporting.validation import too_long

regions_cli = AppGroup("regions", help="行政区划")
campaign_cli = AppGroup("campaign", help="征缴期与报送期次")
targets_cli = AppGroup("targets", help="任务分解表")
users_cli = AppGroup("users", help="用户与API令牌")
reports_cli = AppGroup("reports", help="报表")
circulars_cli = AppGroup("circulars", help="通报")
departments_cli = AppGroup("departments", help="部门（条线）")
indicators_cli = AppGroup("indicators", help="进度表指标")
audit_cli = AppGroup("audit", help="审计日志")
jobs_cli = AppGroup("jobs", help="后台任务")
holidays_cli = AppGroup("holidays", help="节假日调整（官方日历尚未收录的年份）")
reminders_cli = AppGroup("reminders", help="催报")
system_cli = AppGroup("system-figures", help="信息系统数据")


@contextmanager
def one_transaction():
    """Commit what the block did, or roll all of it back and exit with the reason."""
    try:
        yield
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        # domain errors that list their rows are reported by the command itself
        if isinstance(error, ValueError) and not hasattr(error, "errors"):
            raise click.ClickException(str(error).splitlines()[0] if str(error) else repr(error))
        raise


def parse_date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"日期应为 YYYY-MM-DD，而不是 {value}", param_hint=option)


@audit_cli.command("verify")
def audit_verify():
    """校验审计日志的哈希链：全部相符时退出码为0并打印条数；否则退出码为1并指出第一条不符的记录编号。"""
    count, broken = audit.verify()
    if broken is not None:
        click.echo(f"审计日志第 {broken} 号记录的内容或链接与校验值不符（已检查{count:,}条）", err=True)
        click.echo(str(broken))
        sys.exit(1)
    click.echo(f"审计日志完整：已检查{count:,}条")
    click.echo(str(count))


def campaign_or_exit(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise click.ClickException(f"征缴期 {campaign_id} 不存在")
    return campaign


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="做完队列中的任务就退出")
def jobs_worker(burst: bool):
    """运行后台任务进程（排版通报 PDF），需要 REDIS_URL。"""
    from rq import Worker

    # WeasyPrint takes most of a second to load: load it once here, and every job's forked
    # work horse starts with it.
    from reporting import pdf  # noqa: F401
    from reporting.jobs import REMINDER_QUEUE, queue
    jobs = queue()
    if jobs is None:
        raise click.ClickException("未设置 REDIS_URL：没有任务队列，任务在请求中直接执行")
    # the scheduler runs the delayed retries of 催报 deliveries
    Worker([jobs, queue(name=REMINDER_QUEUE)], connection=jobs.connection).work(burst=burst, with_scheduler=True)


@contextmanager
def progress_bar(label: str, length: int):
    """A progress bar on standard error, as `regions import` shows, for files of a thousand rows or more."""
    if length < 1000:
        yield None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield bar.update


def init_app(app: Flask) -> None:
    """Add the groups to `flask`; the features' cli modules (imported by app.py) have filled them."""
    for group in (regions_cli, campaign_cli, targets_cli, reports_cli, users_cli, circulars_cli, jobs_cli,
                  reminders_cli, departments_cli, indicators_cli, system_cli, audit_cli, holidays_cli):
        app.cli.add_command(group)


def user_or_exit(username: str) -> User:
    """The user of a command's argument, or the command stops saying there is none."""
    user = db.session.scalar(db.select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"用户 {username} 不存在")
    return user


def check_lengths(*texts: tuple[str, str, int]) -> None:
    """Free text from the command line meets the same limits as the site's forms (the column sizes)."""
    for label, text, limit in texts:
        problem = too_long(label, text, limit)
        if problem:
            raise click.ClickException(problem)
