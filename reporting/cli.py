"""The `flask` commands of API.md; each fails with a one-line reason and leaves nothing half-written."""
from __future__ import annotations

import datetime as dt
import os
import secrets
import sys
import time
from contextlib import contextmanager

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from reporting import audit, clock, versions
from reporting.extensions import db
from reporting.hierarchy import DivisionFileError, import_divisions, region_by_code
from reporting.models import ROLES, ApiToken, Campaign, User
from reporting.validation import FILER_LIMITS, too_long

regions_cli = AppGroup("regions", help="行政区划")
campaign_cli = AppGroup("campaign", help="征缴期与报送期次")
targets_cli = AppGroup("targets", help="任务分解表")
users_cli = AppGroup("users", help="用户与API令牌")
reports_cli = AppGroup("reports", help="报表")
circulars_cli = AppGroup("circulars", help="通报")
departments_cli = AppGroup("departments", help="部门（条线）")
indicators_cli = AppGroup("indicators", help="进度表指标")


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
                for campaign in db.session.scalars(db.select(Campaign)):
                    versions.bump_all(campaign)  # names and unit counts show in every progress answer
    except DivisionFileError as error:
        raise click.ClickException(str(error))
    finally:
        if bar["bar"]:
            bar["bar"].__exit__(None, None, None)
    for label, line, code, name in result.unplaced:
        click.echo(f"无法归属：{label} 第{line}行 {code} {name}（上级不存在）", err=True)
    click.echo(f"新增{result.added:,}个，更名{result.renamed:,}个，调整上级{result.moved:,}个，"
               f"未变{result.unchanged:,}个，无法归属{len(result.unplaced):,}个")


@campaign_cli.command("interview-rule")
@click.argument("campaign_id", type=int)
@click.option("--level", required=True, type=click.Choice(["city", "county", "township", "village"]),
              help="被排名单位的层级")
@click.option("--bottom", required=True, type=click.IntRange(1, 20), help="末位N名")
@click.option("--periods", required=True, type=click.IntRange(1, 20), help="连续K期")
@click.option("--below-time-progress", "below", is_flag=True,
              help="只约谈低于序时进度的（排名末位但达到序时进度的不约谈）")
def campaign_interview_rule(campaign_id: int, level: str, bottom: int, periods: int, below: bool):
    """设置某一层级的约谈规则：同级单位中连续K期排名末位N名的，列入约谈名单。"""
    with one_transaction():
        campaign = db.session.get(Campaign, campaign_id)
        if campaign is None:
            raise click.ClickException(f"征缴期 {campaign_id} 不存在")
        before = dict(campaign.interview_rules or {})
        campaign.interview_rules = {**before, level: {"bottom": bottom, "periods": periods,
                                                      **({"below_time_progress": True} if below else {})}}
        versions.bump_all(campaign)  # the 约谈名单 follows the rule
        audit.record("campaign.interview_rule", None, region=campaign.root, target=campaign.name,
                     before=before, after=campaign.interview_rules)
    words = "末位" if bottom == 1 else f"后{bottom}名"
    click.echo(f"{campaign.name}：{level} 级连续{periods}期排名{words}"
               f"{'且低于序时进度' if below else ''}的列入约谈名单")

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
@click.option("--previous", "previous_id", type=int, help="上一年度征缴期的编号（用于较上年同期对比）")
def campaign_create(name, root_code, start, end, extend_to, rhythm, first_due, report_level, target_rate,
                    previous_id):
    """建立征缴期及其全部报送期次；最后一行输出新征缴期的编号。"""
    _check_lengths(("征缴期名称", name, 200))
    from reporting.campaigns import create_campaign, link_previous
    previous = _campaign(previous_id) if previous_id is not None else None
    with one_transaction():
        campaign, warning = create_campaign(
            name=name, root=_region(root_code), start=_date(start, "--start"), end=_date(end, "--end"),
            extend_to=_date(extend_to, "--extend-to"), rhythm=rhythm,
            first_due=_date(first_due, "--first-due"), report_level=report_level,
            target_rate=target_rate)
        if previous is not None:
            link_previous(campaign, previous)
    _print_periods(campaign, warning)


def _print_periods(campaign: Campaign, warning: str | None) -> None:
    """A new campaign's periods, then its id alone on the last line."""
    if warning:
        click.echo(warning, err=True)
    if campaign.previous_id is not None:
        click.echo(f"上一年度：{campaign.previous.name}（编号{campaign.previous_id}）")
    for period in campaign.periods:
        shifted = "" if period.due == period.nominal_due else f"（{period.nominal_due}顺延）"
        click.echo(f"{period.label}  截止 {period.due}{shifted}")
    click.echo(campaign.id)


@campaign_cli.command("next")
@click.argument("campaign_id", type=int)
@click.option("--name", help="新征缴期名称（默认：把名称中的年份加一）")
@click.option("--copy-targets", is_flag=True, help="同时复制任务数（默认不复制，另行导入任务分解表）")
def campaign_next(campaign_id: int, name: str | None, copy_targets: bool):
    """由本征缴期建立下一年度征缴期（日期顺延一年，截止日期按该年日历节假日顺延）；最后一行输出新编号。"""
    if name is not None:
        _check_lengths(("征缴期名称", name, 200))
    from reporting.campaigns import next_campaign
    previous = _campaign(campaign_id)
    with one_transaction():
        campaign, warning = next_campaign(previous, name, copy_targets=copy_targets)
    click.echo(f"已由“{previous.name}”建立“{campaign.name}”：{campaign.start}至{campaign.end}"
               + (f"，延长至{campaign.extend_to}" if campaign.extend_to else "")
               + ("，已复制任务数" if copy_targets else "，任务数请另行导入任务分解表"))
    _print_periods(campaign, warning)


@targets_cli.command("import")
@click.argument("campaign_id", type=int)
@click.argument("file", type=click.Path(dir_okay=False))
def targets_import(campaign_id: int, file: str):
    """导入任务分解表（.xlsx 或 .csv），全部成功或全部不导入。"""
    from reporting.spreadsheets import TableError
    from reporting.targets import TargetImportError, import_targets
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

    from reporting.bulk import collector_paused
    from reporting.filing import import_reports
    from reporting.tables import ImportRejected, file_digest, rows_from_table
    from reporting.models import Period
    from reporting.spreadsheets import TableError, read_table
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
               f"警告{len(result.warnings):,}条；用时{seconds:.2f}秒")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(list(ROLES)))
@click.option("--region", "region_code", help="区划代码（部门填报员不用）")
@click.option("--department", "department_id", type=int, help="部门编号（仅部门填报员）")
@click.option("--password", help="至少8个字符，含大写字母、小写字母、数字、符号中的至少三类")
@click.option("--must-change/--no-must-change", default=None,
              help="首次登录须修改密码（不给 --password 而生成初始密码时默认如此）")
@click.option("--name", "full_name", default="", help="姓名")
@click.option("--phone", default="", help="联系电话")
def users_create(username, role, region_code, department_id, password, must_change, full_name, phone):
    """建立绑定到一个区划（或一个部门）的用户；不给密码时生成一个初始密码并打印。"""
    from reporting.accounts import generated_password, password_problem
    from reporting.models import Department
    _check_lengths(("用户名", username, 50), ("姓名", full_name, FILER_LIMITS["name"]),
                   ("联系电话", phone, FILER_LIMITS["phone"]))
    if db.session.scalar(db.select(User).where(User.username == username)):
        raise click.ClickException(f"用户名 {username} 已存在")
    department = None
    if role == "department_filer":
        if department_id is None:
            raise click.ClickException("部门填报员用 --department 部门编号 绑定到一个部门")
        department = db.session.get(Department, department_id)
        if department is None:
            raise click.ClickException(f"部门 {department_id} 不存在")
        if region_code is not None and region_code != department.region.code:
            raise click.ClickException(f"{department.name}在{department.region.name}（{department.region.code}），"
                                       f"不在 {region_code}；部门填报员只需 --department")
    elif region_code is None or department_id is not None:
        raise click.ClickException("请用 --region 区划代码 指定用户所属区划（--department 仅用于部门填报员）")
    generated = password is None
    password = generated_password() if generated else password
    problem = password_problem(password, username)
    if problem:
        raise click.ClickException(problem)
    with one_transaction():
        region = department.region if department else _region(region_code)
        user = User(username=username, role=role, region=region, department=department,
                    full_name=full_name, phone=phone,
                    must_change_password=generated if must_change is None else must_change)
        user.set_password(password)
        db.session.add(user)
        db.session.flush()
        audit.record("user.create", None, region=user.region, target=f"用户 {username}",
                     after={"role": role, "region": region.code,
                            **({"department": department.id} if department else {})})
    click.echo(f"已建立用户 {username}（{ROLES[role]}，{department.name if department else user.region.name}）")
    if generated:
        click.echo(f"初始密码：{password}")


@users_cli.command("unlock")
@click.argument("username")
def users_unlock(username: str):
    """解锁因连续密码错误而锁定的账号。"""
    user = db.session.scalar(db.select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"用户 {username} 不存在")
    from reporting.accounts import unlock
    with one_transaction():
        unlock(None, user)
    click.echo(f"已解锁用户 {username}")


audit_cli = AppGroup("audit", help="审计日志")


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


@campaign_cli.command("issue-line")
@click.argument("campaign_id", type=int)
@click.argument("choice", type=click.Choice(["on", "off"]))
def campaign_issue_line(campaign_id: int, choice: str):
    """通报是否在发文字号上方印期号行（第N期）：on 印，off 不印（默认）。"""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise click.ClickException(f"征缴期 {campaign_id} 不存在")
    with one_transaction():
        campaign.circular_issue_line = choice == "on"
    click.echo(f"{campaign.name}：通报{'印' if choice == 'on' else '不印'}期号行")


@circulars_cli.command("render")
@click.option("--region", "region_code", required=True, help="通报的区划代码（发文机关所在地）")
@click.option("--period", "period_id", required=True, type=int, help="报送期次编号")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
def circulars_render(region_code: str, period_id: int, out: str):
    """按当前数据生成该区划该期次的通报草稿 PDF（与网站印发的文件相同）。"""
    from reporting.circulars import build_document, default_title, draft_body, next_numbers, render_pdf
    from reporting.issuers import issuing_body
    from reporting.models import Period
    from reporting.ranking import progress
    period = db.session.get(Period, period_id)
    if period is None:
        raise click.ClickException(f"报送期次 {period_id} 不存在")
    region = _region(region_code)
    campaign = period.campaign
    if not campaign.covers(region):
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


def _circular_scope(region_code: str, period_id: int):
    from reporting.models import Period
    period = db.session.get(Period, period_id)
    if period is None:
        raise click.ClickException(f"报送期次 {period_id} 不存在")
    region = _region(region_code)
    campaign = period.campaign
    if not campaign.covers(region):
        raise click.ClickException(f"{region.name}不在征缴期“{campaign.name}”范围内")
    return period, region


def _signer(username: str | None, region):
    if not username:
        return None
    user = db.session.scalar(db.select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"用户 {username} 不存在")
    if user.role != "city_admin" or not user.region.contains(region):
        raise click.ClickException(f"用户 {username} 无权签发{region.name}的通报")
    return user


@circulars_cli.command("issuer")
@click.argument("region_code")
@click.option("--prefix", help="机关代字，如 江海医保（发文字号的前缀，不能与其他发文机关相同）")
@click.option("--name", "name", help="发文机关，如 江门市江海区医疗保障局")
@click.option("--addressee", help="主送机关")
@click.option("--copy-to", "copy_to", help="抄送机关")
@click.option("--printed-by", "printed_by", help="印发机关")
def circulars_issuer(region_code: str, prefix: str | None, name: str | None, addressee: str | None,
                     copy_to: str | None, printed_by: str | None):
    """查看或设置一个区划的发文机关：机关代字、名称、主送、抄送、印发机关。"""
    from reporting.issuers import check_prefix, issuing_body
    region = _region(region_code)
    with one_transaction():
        body = issuing_body(region)
        if prefix is not None:
            prefix = prefix.strip()
            if not prefix or len(prefix) > 20:
                raise click.BadParameter("机关代字应为1至20个字", param_hint="--prefix")
            check_prefix(region, prefix)
            body.prefix = prefix
        for field, value, limit in (("name", name, 100), ("addressee", addressee, 200),
                                    ("copy_to", copy_to, 300), ("printed_by", printed_by, 100)):
            if value is not None:
                if len(value.strip()) > limit or (field != "copy_to" and not value.strip()):
                    raise click.BadParameter(f"应为1至{limit}个字", param_hint=f"--{field.replace('_', '-')}")
                setattr(body, field, value.strip())
        if any(v is not None for v in (prefix, name, addressee, copy_to, printed_by)):
            if body.id is None:
                db.session.add(body)
            audit.record("issuer.update", None, region=region, target=f"{region.name}发文机关",
                         after={"prefix": body.prefix, "name": body.name})
    click.echo(f"{body.name}：机关代字 {body.prefix}；主送 {body.addressee}；"
               f"抄送 {body.copy_to or '无'}；印发机关 {body.printed_by}")


@circulars_cli.command("draft")
@click.option("--region", "region_code", required=True, help="通报的区划代码（发文机关所在地）")
@click.option("--period", "period_id", required=True, type=int, help="报送期次编号")
@click.option("--by", "username", help="起草人的用户名（默认：无，记为命令行）")
def circulars_draft(region_code: str, period_id: int, username: str | None):
    """按当前数据起草通报，并记下起草时的数据版本；最后一行是草稿编号。"""
    from reporting.circulars import new_draft
    period, region = _circular_scope(region_code, period_id)
    user = _signer(username, region)
    with one_transaction():
        draft = new_draft(period, region, user)
    click.echo(f"已起草 {region.name}{period.label}通报草稿（数据版本 {draft.data_version[:12]}）", err=True)
    click.echo(draft.id)


@circulars_cli.command("issue")
@click.option("--draft", "draft_id", type=int, help="要印发的通报草稿编号")
@click.option("--region", "region_code", help="通报的区划代码（发文机关所在地；不用 --draft 时）")
@click.option("--period", "period_id", type=int, help="报送期次编号（不用 --draft 时）")
@click.option("--regenerate", is_flag=True, help="起草后数据有变化时，按最新数据重新生成正文再印发")
@click.option("--as-drafted", "as_drafted", is_flag=True, help="起草后数据有变化时，正文和附件都按起草时的数据印发")
@click.option("--by", "username", help="签发人的用户名（默认：无，记为命令行）")
def circulars_issue(draft_id: int | None, region_code: str | None, period_id: int | None, regenerate: bool,
                    as_drafted: bool, username: str | None):
    """印发通报（编号、冻结数据、PDF、锁定已报数据），与网站“签发”相同：--draft 印发一份草稿；
    --region 与 --period 起草并立即印发。"""
    from reporting.circulars import issue, new_draft
    from reporting.models import Circular
    if regenerate and as_drafted:
        raise click.UsageError("--regenerate 与 --as-drafted 只能选一个")
    if draft_id is not None:
        if region_code is not None or period_id is not None:
            raise click.UsageError("用 --draft 时不再需要 --region 和 --period")
        draft = db.session.get(Circular, draft_id)
        if draft is None:
            raise click.ClickException(f"通报草稿 {draft_id} 不存在")
        if draft.status == "issued":
            raise click.ClickException(f"通报 {draft_id} 已印发（{draft.doc_number}），不能再次印发")
        region = draft.region
    elif region_code is None or period_id is None:
        raise click.UsageError("请用 --draft 草稿编号，或同时给出 --region 和 --period")
    else:
        if regenerate or as_drafted:
            raise click.UsageError("--regenerate 与 --as-drafted 只用于 --draft")
        period, region = _circular_scope(region_code, period_id)
    user = _signer(username, region)
    mode = "regenerate" if regenerate else "as_drafted" if as_drafted else None
    with one_transaction():
        if draft_id is None:
            draft = new_draft(period, region, user)
        circular = issue(draft, user, mode=mode)
    click.echo(f"已印发 {circular.doc_number}（第{circular.issue_no}期）：{circular.title}", err=True)
    click.echo(circular.id)


def _campaign(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise click.ClickException(f"征缴期 {campaign_id} 不存在")
    return campaign


@departments_cli.command("add")
@click.argument("campaign_id", type=int)
@click.option("--name", required=True, help="部门名称，如 区民政局")
@click.option("--indicators", "keys", required=True, help="部门填报的指标代码，逗号分隔")
@click.option("--region", "region_code", help="部门所在区划（默认为征缴期的覆盖范围）")
@click.option("--measure", help="对照任务数考核的指标（默认为其已参保类指标）")
def departments_add(campaign_id: int, name: str, keys: str, region_code: str | None, measure: str | None):
    """建立征缴期的一个部门（条线），每期填报所列指标；最后一行输出部门编号。"""
    from reporting.departments import add_department
    campaign = _campaign(campaign_id)
    with one_transaction():
        department = add_department(campaign, name, keys.replace("，", ",").split(","),
                                    region=_region(region_code) if region_code else None, measure=measure)
    labels = {i.key: i.label for i in department.indicators()}
    click.echo(f"已建立部门 {department.name}（{department.region.name}），填报："
               f"{'、'.join(labels[k] for k in department.indicator_keys)}")
    click.echo(department.id)


@departments_cli.command("list")
@click.argument("campaign_id", type=int)
def departments_list(campaign_id: int):
    """列出征缴期的部门：编号、名称、所在区划、指标。"""
    from reporting.models import Department
    campaign = _campaign(campaign_id)
    for department in db.session.scalars(db.select(Department).where(Department.campaign_id == campaign.id)
                                         .order_by(Department.position, Department.id)):
        click.echo(f"{department.id}\t{department.name}\t{department.region.code}\t"
                   f"{','.join(department.indicator_keys)}")


@indicators_cli.command("add")
@click.argument("campaign_id", type=int)
@click.option("--key", required=True, help="指标代码，如 paid")
@click.option("--label", required=True, help="中文名称，如 已缴费人数")
@click.option("--part-of", help="所属总数的指标代码（“其中”项）")
def indicators_add(campaign_id: int, key: str, label: str, part_of: str | None):
    """为征缴期增加一个只由部门填报的指标（不进入各地进度表和汇总）。"""
    from reporting.departments import add_indicator
    campaign = _campaign(campaign_id)
    with one_transaction():
        indicator = add_indicator(campaign, key, label, part_of)
    click.echo(f"已增加部门指标 {indicator.key}（{indicator.label}）")


jobs_cli = AppGroup("jobs", help="后台任务")


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


@click.command("demo")
@click.option("--set", "which", default="jiangmen", type=click.Choice(["jiangmen", "ninghe"]),
              help="jiangmen：江门市（半月报，默认）；ninghe：宁河区（周报，镇街与六个部门）")
def demo_command(which: str):
    """载入演示数据（可重复执行）：默认江门市，--set ninghe 为宁河区。"""
    if which == "ninghe":
        from reporting.ninghe_demo import load_ninghe as load
    else:
        from reporting.demo import load_demo as load
    with one_transaction():
        summary = load(echo=lambda line: click.echo(line))
    click.echo(summary)


holidays_cli = AppGroup("holidays", help="节假日调整（官方日历尚未收录的年份）")


def _echo_plan(plan) -> None:
    for change in plan.changes:
        click.echo(f"{change.period.campaign.name} {change.text}")
    for change in plan.kept:
        click.echo(f"{change.period.campaign.name} 第{change.period.seq}期 按新日历应为{change.new}，"
                   f"已过，保持报送截止 {change.old} 不变", err=True)
    click.echo(f"调整了{len(plan.changes)}个报送期次的截止日期" if plan.changes
               else "没有报送期次的截止日期需要调整")


def _official_note(years) -> None:
    from reporting.holidays import differences, official_knows, overrides_of
    for year in sorted(years):
        if official_knows(year):
            clash = differences(overrides_of(year))
            click.echo(f"注意：官方日历已收录{year}年，录入的日期优先于官方数据；"
                       + (f"有{len(clash)}天与官方数据不一致，见 flask holidays list {year}" if clash
                          else "与官方数据一致"), err=True)


@holidays_cli.command("add")
@click.argument("runs", nargs=-1, required=True, metavar="DATE[..DATE]...")
@click.option("--off", is_flag=True, help="放假")
@click.option("--workday", is_flag=True, help="调休上班")
@click.option("--note", default="", help="说明，例如 春节")
def holidays_add(runs, off: bool, workday: bool, note: str):
    """录入国务院公布的放假（--off）或调休上班（--workday）日期，并重新计算未过期次的报送截止日期。"""
    from reporting.holidays import enter_days, parse_run
    if off == workday:
        raise click.ClickException("请指定 --off（放假）或 --workday（调休上班）之一")
    try:
        days = sorted({day for run in runs for day in parse_run(run)})
    except ValueError as error:
        raise click.ClickException(str(error))
    with one_transaction():
        outcome = enter_days({day: workday for day in days}, None, note.strip())
    span = str(days[0]) if len(days) == 1 else f"{days[0]} 至 {days[-1]}"
    click.echo(f"已录入{len(days)}天{'调休上班' if workday else '放假'}（{span}；"
               f"新增{outcome.added}，修改{outcome.updated}）")
    _official_note({day.year for day in days})
    _echo_plan(outcome.plan)


@holidays_cli.command("remove")
@click.argument("runs", nargs=-1, required=True, metavar="DATE[..DATE]...")
def holidays_remove(runs):
    """删除录入的调整（恢复官方日历或周末），并重新计算未过期次的报送截止日期。"""
    from reporting.holidays import parse_run, remove_days
    try:
        days = sorted({day for run in runs for day in parse_run(run)})
    except ValueError as error:
        raise click.ClickException(str(error))
    with one_transaction():
        removed, plan = remove_days(days, None)
    click.echo(f"已删除{removed}天的调整")
    _echo_plan(plan)


@holidays_cli.command("notice")
@click.argument("year", type=click.IntRange(1949, 2200))
@click.argument("file", type=click.File("r", encoding="utf-8"))
def holidays_notice(year: int, file):
    """读取通知原文（每个节日一行，FILE 为 - 时读标准输入），全部读懂才录入。"""
    from reporting.holidays import enter_days, parse_notice
    notice = parse_notice(file.read(), year)
    for line in notice.lines:
        click.echo(f"{line.name}：放假 {', '.join(map(str, line.off)) or '无'}；"
                   f"上班 {', '.join(map(str, line.workdays)) or '无'}")
    for text in notice.unrecognized:
        click.echo(f"未识别（没有日期，不录入）：{text}", err=True)
    if notice.problems:
        for problem in notice.problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"通知有{len(notice.problems)}处无法确认，未录入")
    if not notice.days():
        raise click.ClickException("没有读到任何节日安排")
    with one_transaction():
        outcome = enter_days(notice.days(), None, f"{year}年节假日安排", notice.notes())
    click.echo(f"已录入{len(notice.days())}天（新增{outcome.added}，修改{outcome.updated}）")
    _official_note({year})
    _echo_plan(outcome.plan)


@holidays_cli.command("list")
@click.argument("year", type=click.IntRange(1949, 2200))
def holidays_list(year: int):
    """列出某年录入的放假和调休日期，并与官方日历（若已收录该年）对照。"""
    from importlib.metadata import version

    from reporting.filters import weekday
    from reporting.holidays import official_knows, official_workday, overrides_of, uncovered_periods
    rows = overrides_of(year)
    known = official_knows(year)
    official = f"chinesecalendar {version('chinesecalendar')}"
    click.echo(f"{year}年：官方日历（{official}）{'已收录' if known else '尚未收录'}；录入{len(rows)}天")
    clashes = 0
    for row in rows:
        line = f"{row.day}  {weekday(row.day)}  {'上班' if row.workday else '放假'}"
        if known:
            said = official_workday(row.day)
            line += f"  官方：{'上班' if said else '放假'}"
            if said != row.workday:
                clashes += 1
                line += "  不一致"
        click.echo(f"{line}  {row.note}".rstrip())
    if known and rows:
        click.echo(f"有{clashes}天与官方数据不一致，请核对后用 flask holidays remove 删除过时的调整" if clashes
                   else "录入的日期与官方数据一致，可以删除（官方数据已足够）")
    if not known and not rows:
        for campaign in db.session.scalars(db.select(Campaign).order_by(Campaign.id)):
            periods = uncovered_periods(campaign, clock.today()).get(year, [])
            if periods:
                click.echo(f"受影响：{campaign.name} " + "、".join(
                    f"第{p.seq}期（截止{p.due}）" for p in periods))


reminders_cli = AppGroup("reminders", help="催报")


@reminders_cli.command("auto")
@click.option("--every", type=int, default=0, help="每隔这么多秒再运行一次（默认只运行一次）")
def reminders_auto(every: int):
    """发送到期的自动催报（截止前N小时，N由征缴期设置）；可在多台实例上同时运行，不会重复发送。"""
    from reporting.reminders import deliver, robot_timeout, send_due
    from reporting.supervision import notify_due
    while True:
        with one_transaction():
            sent = send_due()
        for reminder in sent:
            deliver(reminder)
        with one_transaction():  # 督办: the day before each 整改时限, the unit's robots are told once
            told = notify_due(clock.today(), robot_timeout(current_app.config))
        click.echo(f"督办提醒：{len(told)}条")
        click.echo(f"自动催报：{sum(len(r.messages) for r in sent)}条")  # the last line, as scripts read it
        if not every:
            return
        time.sleep(every)


@reminders_cli.command("schedule")
@click.argument("campaign_id", type=int)
@click.option("--hours", type=int, help="截止前多少小时自动催报；不给则关闭自动催报")
def reminders_schedule(campaign_id: int, hours: int | None):
    """设置征缴期的自动催报：每期报送截止前N小时，催报尚未报送的单位。"""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise click.ClickException(f"征缴期 {campaign_id} 不存在")
    if hours is not None and not 1 <= hours <= 24 * 14:
        raise click.ClickException("--hours 应在1到336之间")
    with one_transaction():
        before = campaign.auto_remind_hours
        campaign.auto_remind_hours = hours
        audit.record("campaign.update", None, region=campaign.root, target=f"征缴期 {campaign.id} 自动催报",
                     before={"auto_remind_hours": before}, after={"auto_remind_hours": hours})
    click.echo(f"自动催报：截止前{hours}小时" if hours else "自动催报已关闭")


system_cli = AppGroup("system-figures", help="信息系统数据")


@contextmanager
def _progress_bar(label: str, length: int):
    """A progress bar on standard error, as `regions import` shows, for files of a thousand rows or more."""
    if length < 1000:
        yield None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield bar.update


def _import_system(period, header, body, source: dict):
    from reporting.system_figures import import_figures
    with _progress_bar("导入信息系统数据", len(body)) as update:
        return import_figures(period, header, body, progress=update, source=source)


def _system_summary(result) -> str:
    at = f"，数据日期{result.at.month}月{result.at.day}日" if result.at else ""
    replaced = f"，替换了此前导入的{result.replaced:,}个单位" if result.replaced else ""
    return (f"已导入信息系统数据{result.rows:,}行，{result.units:,}个单位（其中{result.summed:,}个由下级合计）"
            f"{at}{replaced}；警告{len(result.warnings):,}条")


@system_cli.command("import")
@click.argument("period_id", type=int)
@click.argument("file", type=click.Path(dir_okay=False))
def system_figures_import(period_id: int, file: str):
    """导入一期信息系统数据（.csv 或 .xlsx：单位代码 + 各指标列，可有数据日期），与报表分开保存；
    再次导入同一期次则替换；全部成功或全部不导入。"""
    from reporting.tables import ImportRejected, file_digest
    from reporting.models import Period
    from reporting.spreadsheets import TableError, read_table
    period = db.session.get(Period, period_id)
    if period is None:
        raise click.ClickException(f"报送期次 {period_id} 不存在")
    try:
        header, body = read_table(file)
        with one_transaction():
            result = _import_system(period, header, body,
                                    {"file": os.path.basename(file), "sha256": file_digest(file)})
    except (ImportRejected, TableError) as error:
        for line in getattr(error, "errors", [])[1:50]:
            click.echo(line, err=True)
        raise click.ClickException(str(error))
    for warning in result.warnings[:200]:
        click.echo(f"警告：{warning}", err=True)
    click.echo(_system_summary(result))


@system_cli.command("watch")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--every", type=int, default=0, help="每隔这么多秒再查看一次（默认只查看一次）")
def system_figures_watch(directory: str, every: int):
    """导入目录中新放入的信息系统数据文件（期次取自“期次”列或文件名“期次编号_*.csv”）：
    成功的移到 done/，失败的移到 failed/ 并附 .log 说明原因；可在多台实例上同时运行。"""
    from reporting.tables import ImportRejected, file_digest
    from reporting.spreadsheets import TableError, read_table
    from reporting.system_figures import claim_files, file_away, watched_period
    if every < 0:
        raise click.ClickException("--every 不能为负数")
    while True:
        try:
            taken = claim_files(directory)
        except ValueError as error:
            raise click.ClickException(str(error))
        for path in taken:
            name = os.path.basename(path)
            try:
                header, body = read_table(path)
                with one_transaction():
                    period = watched_period(path, header, body)
                    result = _import_system(period, header, body, {"file": name, "sha256": file_digest(path)})
            except (ImportRejected, TableError, click.ClickException) as error:
                problems = ([str(line) for line in getattr(error, "errors", [])]
                            or [error.message if isinstance(error, click.ClickException) else str(error)])
                file_away(path, None, problems)
                click.echo(f"{name}：导入失败，{problems[0]}", err=True)
                continue
            file_away(path, result, [])
            click.echo(f"{name}：{period.label}，{_system_summary(result)}")
        if not every:
            return
        time.sleep(every)


@campaign_cli.command("basis")
@click.argument("campaign_id", type=int)
@click.argument("choice", type=click.Choice(["reported", "system"]))
def campaign_basis(campaign_id: int, choice: str):
    """排名、完成率、约谈和通报所用的口径：reported 以填报数据为准，system 以信息系统数据为准
    （单位有信息系统数据的取信息系统数据，没有的取填报数）。"""
    from reporting.system_figures import BASES, set_basis
    campaign = _campaign(campaign_id)
    with one_transaction():
        set_basis(campaign, choice)
    click.echo(f"{campaign.name}：{BASES[choice]}")


@campaign_cli.command("system-threshold")
@click.argument("campaign_id", type=int)
@click.option("--share", type=float, default=0.02, show_default=True, help="相差超过信息系统数的这一比例")
@click.option("--people", type=int, default=50, show_default=True, help="且相差超过这么多人")
def campaign_system_threshold(campaign_id: int, share: float, people: int):
    """与信息系统相差多少提示核实：填报与信息系统的已参保人数相差既超过比例又超过人数的，予以标记。"""
    from reporting.system_figures import set_threshold
    campaign = _campaign(campaign_id)
    with one_transaction():
        set_threshold(campaign, share, people)
    click.echo(f"{campaign.name}：填报与信息系统相差超过{share:.2%}且超过{people:,}人的予以标记")


@users_cli.command("webhook")
@click.argument("username")
@click.option("--kind", required=True, type=click.Choice(["wecom", "dingtalk"]), help="企业微信或钉钉群机器人")
@click.option("--url", help="机器人的Webhook地址；不给则删除该机器人")
@click.option("--secret", default="", help="钉钉加签密钥（SEC…）")
@click.option("--mobiles", default="", help="要@的手机号，逗号分隔（默认：用户的联系电话）")
def users_webhook(username: str, kind: str, url: str | None, secret: str, mobiles: str):
    """设置用户所在单位接收催报的群机器人。"""
    from reporting.reminders import set_webhook
    user = db.session.scalar(db.select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"用户 {username} 不存在")
    with one_transaction():
        set_webhook(None, user, kind, url, secret, mobiles)
    click.echo(f"已{'删除' if url is None else '设置'}{username}的群机器人（{kind}）")


def init_app(app: Flask) -> None:
    for command in (regions_cli, campaign_cli, targets_cli, reports_cli, users_cli, circulars_cli,
                    jobs_cli, reminders_cli, demo_command, departments_cli, indicators_cli, system_cli,
                    audit_cli):
        app.cli.add_command(command)
    app.cli.add_command(holidays_cli)


def _check_lengths(*texts: tuple[str, str, int]) -> None:
    """Free text from the command line meets the same limits as the site's forms (the column sizes)."""
    for label, text, limit in texts:
        problem = too_long(label, text, limit)
        if problem:
            raise click.ClickException(problem)
