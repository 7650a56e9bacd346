"""节假日的命令：holidays add|remove|notice|list。"""
from __future__ import annotations

import click

from reporting import clock
from reporting.cli import holidays_cli, one_transaction
from reporting.extensions import db
from reporting.models import Campaign


def _echo_plan(plan) -> None:
    for change in plan.changes:
        click.echo(f"{change.period.campaign.name} {change.text}")
    for change in plan.kept:
        click.echo(f"{change.period.campaign.name} 第{change.period.seq}期 按新日历应为{change.new}，"
                   f"已过，保持报送截止 {change.old} 不变", err=True)
    click.echo(f"调整了{len(plan.changes)}个报送期次的截止日期" if plan.changes
               else "没有报送期次的截止日期需要调整")


def _official_note(years) -> None:
    from reporting.calendar.holidays import differences, official_knows, overrides_of
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
    from reporting.calendar.holidays import enter_days, parse_run
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
    from reporting.calendar.holidays import parse_run, remove_days
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
    from reporting.calendar.holidays import enter_days, parse_notice
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

    from reporting.calendar.holidays import official_knows, official_workday, overrides_of, uncovered_periods
    from reporting.filters import weekday
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
