"""The `flask` commands of API.md; each fails with a one-line reason and leaves nothing half-written."""
from __future__ import annotations

import datetime as dt
import os
import secrets
import sys
from contextlib import contextmanager

import click
from flask import Flask
from flask.cli import AppGroup

from . import audit, clock
from .extensions import db
from .hierarchy import DivisionFileError, import_divisions, region_by_code
from .models import ROLES, ApiToken, Campaign, User

regions_cli = AppGroup("regions", help="行政区划")
campaign_cli = AppGroup("campaign", help="征缴期与报送期次")
targets_cli = AppGroup("targets", help="任务分解表")
users_cli = AppGroup("users", help="用户与API令牌")
reports_cli = AppGroup("reports", help="报表")
circulars_cli = AppGroup("circulars", help="通报")


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


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"日期应为 YYYY-MM-DD，而不是 {value}", param_hint=option)


def _region(code: str):
    region = region_by_code(code)
    if region is None:
        raise click.ClickException(f"区划代码 {code} 不存在，请先导入行政区划")
    return region


@regions_cli.command("import")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--under", help="只导入这个区划代码及其下级")
def regions_import(directory: str, under: str | None):
    """导入统计用区划代码 CSV（provinces/cities/areas/streets/villages[.gz]）。"""
    bar = {"bar": None}

    def total(n):
        bar["bar"] = click.progressbar(length=n, label="导入区划", file=sys.stderr)
        bar["bar"].__enter__()

    def progress(n):
        bar["bar"].update(n)

    try:
        with one_transaction():
            result = import_divisions(directory, under, progress=progress, total=total)
            if result.added or result.renamed or result.moved:
                from . import cache
                for campaign in db.session.scalars(db.select(Campaign)):
                    cache.bump_all(campaign)  # names and unit counts show in every progress answer
    except DivisionFileError as error:
        raise click.ClickException(str(error))
    finally:
        if bar["bar"]:
            bar["bar"].__exit__(None, None, None)
    for label, line, code, name in result.unplaced:
        click.echo(f"无法归属：{label} 第{line}行 {code} {name}（上级不存在）", err=True)
    click.echo(f"新增{result.added:,}个，更名{result.renamed:,}个，调整上级{result.moved:,}个，"
               f"未变{result.unchanged:,}个，无法归属{len(result.unplaced):,}个")


@campaign_cli.command("create")
@click.option("--name", required=True)
@click.option("--root", "root_code", required=True, help="覆盖范围的区划代码")
@click.option("--start", required=True)
@click.option("--end", required=True)
@click.option("--extend-to")
@click.option("--rhythm", default="semimonthly", type=click.Choice(["semimonthly", "weekly"]))
@click.option("--first-due")
@click.option("--report-level", default="village", type=click.Choice(["village", "township", "county"]))
@click.option("--target-rate", default=0.95, type=float)
def campaign_create(name, root_code, start, end, extend_to, rhythm, first_due, report_level, target_rate):
    """建立征缴期及其全部报送期次；最后一行输出新征缴期的编号。"""
    from .campaigns import create_campaign
    with one_transaction():
        campaign, warning = create_campaign(
            name=name, root=_region(root_code), start=_date(start, "--start"), end=_date(end, "--end"),
            extend_to=_date(extend_to, "--extend-to"), rhythm=rhythm,
            first_due=_date(first_due, "--first-due"), report_level=report_level,
            target_rate=target_rate)
    if warning:
        click.echo(warning, err=True)
    for period in campaign.periods:
        shifted = "" if period.due == period.nominal_due else f"（{period.nominal_due}顺延）"
        click.echo(f"{period.label}  截止 {period.due}{shifted}")
    click.echo(campaign.id)


@targets_cli.command("import")
@click.argument("campaign_id", type=int)
@click.argument("file", type=click.Path(dir_okay=False))
def targets_import(campaign_id: int, file: str):
    """导入任务分解表（.xlsx 或 .csv），全部成功或全部不导入。"""
    from .spreadsheets import TableError
    from .targets import TargetImportError, import_targets
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise click.ClickException(f"征缴期 {campaign_id} 不存在")
    try:
        with one_transaction():
            result = import_targets(campaign, file)
    except (TargetImportError, TableError) as error:
        for line in getattr(error, "errors", [])[3:]:
            click.echo(line, err=True)
        raise click.ClickException(str(error))
    for warning in result.warnings:
        click.echo(f"警告：{warning}", err=True)
    click.echo(f"已导入{result.loaded}个单位的任务数")


@reports_cli.command("import")
@click.argument("period_id", type=int)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--submit", is_flag=True, help="导入后直接提交（否则存为草稿）")
@click.option("--reason", help="修改已提交报表的原因")
def reports_import(period_id: int, file: str, submit: bool, reason: str | None):
    """从信息系统导出的 .csv 或 .xlsx 批量导入一期报表（单位代码 + 各指标列），全部成功或全部不导入。"""
    import time

    from .bulk import collector_paused
    from .filing import ImportRejected, file_digest, import_reports, rows_from_table
    from .models import Period
    from .spreadsheets import TableError, read_table
    period = db.session.get(Period, period_id)
    if period is None:
        raise click.ClickException(f"报送期次 {period_id} 不存在")
    started = time.perf_counter()
    try:
        with collector_paused():  # a province's file is a million small objects: see bulk.py
            header, body = read_table(file)
        with one_transaction():
            result = import_reports(period, rows_from_table(period.campaign.indicators, header, body),
                                    submit=submit, reason=reason,
                                    source={"file": os.path.basename(file), "sha256": file_digest(file)})
    except (ImportRejected, TableError) as error:
        for line in getattr(error, "errors", [])[1:50]:
            click.echo(line, err=True)
        raise click.ClickException(str(error))
    seconds = time.perf_counter() - started
    for warning in result.warnings[:200]:
        click.echo(f"警告：{warning}", err=True)
    if len(result.warnings) > 200:
        click.echo(f"警告：另有{len(result.warnings) - 200}条未列出", err=True)
    click.echo(f"已导入{result.loaded:,}行（新增{result.inserted:,}，更新{result.updated:,}，"
               f"未变{result.unchanged:,}），{'已提交' if submit else '存为草稿'}；"
               f"警告{len(result.warnings):,}条；用时{seconds:.1f}秒")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(list(ROLES)))
@click.option("--region", "region_code", required=True)
@click.option("--password")
@click.option("--name", "full_name", default="", help="姓名")
@click.option("--phone", default="", help="联系电话")
def users_create(username, role, region_code, password, full_name, phone):
    """建立绑定到一个区划的用户；不给密码时生成一个并打印。"""
    if db.session.scalar(db.select(User).where(User.username == username)):
        raise click.ClickException(f"用户名 {username} 已存在")
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    with one_transaction():
        user = User(username=username, role=role, region=_region(region_code),
                    full_name=full_name, phone=phone)
        user.set_password(password)
        db.session.add(user)
        db.session.flush()
        audit.record("user.create", None, region=user.region, target=f"用户 {username}",
                     after={"role": role, "region": region_code})
    click.echo(f"已建立用户 {username}（{ROLES[role]}，{user.region.name}）")
    if generated:
        click.echo(f"初始密码：{password}")


@users_cli.command("token")
@click.argument("username")
def users_token(username: str):
    """为用户生成一个新的API令牌，打印在最后一行（库中只存其哈希）。"""
    user = db.session.scalar(db.select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"用户 {username} 不存在")
    token = secrets.token_urlsafe(32)
    with one_transaction():
        db.session.add(ApiToken(user=user, digest=ApiToken.hash(token), label="命令行生成"))
        audit.record("token.create", None, region=user.region, target=f"用户 {username} 的API令牌")
    click.echo(token)


@circulars_cli.command("render")
@click.option("--region", "region_code", required=True, help="通报的区划代码（发文机关所在地）")
@click.option("--period", "period_id", required=True, type=int, help="报送期次编号")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
def circulars_render(region_code: str, period_id: int, out: str):
    """按当前数据生成该区划该期次的通报草稿 PDF（与网站印发的文件相同）。"""
    from .circulars import default_title, draft_body, issuing_body, next_numbers, build_document, render_pdf
    from .models import Period
    from .ranking import progress
    period = db.session.get(Period, period_id)
    if period is None:
        raise click.ClickException(f"报送期次 {period_id} 不存在")
    region = _region(region_code)
    campaign = period.campaign
    if not (campaign.root.contains(region) or region.contains(campaign.root)):
        raise click.ClickException(f"{region.name}不在征缴期“{campaign.name}”范围内")
    today = clock.today()
    result = progress(period, region)
    issue_no, seq = next_numbers(campaign, region, today.year)
    doc = build_document(period, region, title=default_title(campaign),
                         body=draft_body(result, campaign.requirements), issue_no=issue_no,
                         doc_prefix=issuing_body(region).prefix, doc_year=today.year, doc_seq=seq,
                         date=today, result=result)
    data = render_pdf(doc)
    with open(out, "wb") as f:
        f.write(data)
    db.session.rollback()  # a render writes nothing
    click.echo(f"已生成 {out}（{len(data) // 1024} KB）：{doc.full_title}")


jobs_cli = AppGroup("jobs", help="后台任务")


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="做完队列中的任务就退出")
def jobs_worker(burst: bool):
    """运行后台任务进程（排版通报 PDF），需要 REDIS_URL。"""
    from rq import Worker

    # WeasyPrint takes most of a second to load: load it once here, and every job's forked
    # work horse starts with it.
    from . import pdf  # noqa: F401
    from .jobs import queue
    jobs = queue()
    if jobs is None:
        raise click.ClickException("未设置 REDIS_URL：没有任务队列，任务在请求中直接执行")
    Worker([jobs], connection=jobs.connection).work(burst=burst)


@click.command("demo")
def demo_command():
    """载入江门市演示数据（可重复执行）。"""
    from .demo import load_demo
    with one_transaction():
        summary = load_demo(echo=lambda line: click.echo(line))
    click.echo(summary)


def init_app(app: Flask) -> None:
    for command in (regions_cli, campaign_cli, targets_cli, reports_cli, users_cli, circulars_cli,
                    jobs_cli, demo_command):
        app.cli.add_command(command)
