"""征缴期的命令：campaign create|next|interview-rule|issue-line，targets import。"""
from __future__ import annotations

import click

from reporting import audit, versions
from reporting.cli import (
    campaign_cli,
    campaign_or_exit,
    check_lengths,
    one_transaction,
    parse_date,
    targets_cli,
)
from reporting.extensions import db
from reporting.models import Campaign
from reporting.regions.cli import region_or_exit


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
    check_lengths(("征缴期名称", name, 200))
    from reporting.campaigns.campaigns import create_campaign, link_previous
    previous = campaign_or_exit(previous_id) if previous_id is not None else None
    with one_transaction():
        campaign, warning = create_campaign(
            name=name, root=region_or_exit(root_code), start=parse_date(start, "--start"), end=parse_date(end, "--end"),
            extend_to=parse_date(extend_to, "--extend-to"), rhythm=rhythm,
            first_due=parse_date(first_due, "--first-due"), report_level=report_level,
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
        check_lengths(("征缴期名称", name, 200))
    from reporting.campaigns.campaigns import next_campaign
    previous = campaign_or_exit(campaign_id)
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
    from reporting.campaigns.targets import TargetImportError, import_targets
    from reporting.spreadsheets import TableError
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
