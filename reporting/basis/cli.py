"""信息系统数的命令：system-figures import|watch，campaign basis|system-threshold。"""
from __future__ import annotations

import os
import time

import click

from reporting.cli import campaign_cli, campaign_or_exit, one_transaction, progress_bar, system_cli
from reporting.extensions import db


def _import_system(period, header, body, source: dict):
    from reporting.basis.system_figures import import_figures
    with progress_bar("导入信息系统数据", len(body)) as update:
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
    from reporting.models import Period
    from reporting.spreadsheets import TableError, read_table
    from reporting.tables import ImportRejected, file_digest
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
    from reporting.basis.system_figures import claim_files, file_away, watched_period
    from reporting.spreadsheets import TableError, read_table
    from reporting.tables import ImportRejected, file_digest
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
    from reporting.basis.system_figures import BASES, set_basis
    campaign = campaign_or_exit(campaign_id)
    with one_transaction():
        set_basis(campaign, choice)
    click.echo(f"{campaign.name}：{BASES[choice]}")


@campaign_cli.command("system-threshold")
@click.argument("campaign_id", type=int)
@click.option("--share", type=float, default=0.02, show_default=True, help="相差超过信息系统数的这一比例")
@click.option("--people", type=int, default=50, show_default=True, help="且相差超过这么多人")
def campaign_system_threshold(campaign_id: int, share: float, people: int):
    """与信息系统相差多少提示核实：填报与信息系统的已参保人数相差既超过比例又超过人数的，予以标记。"""
    from reporting.basis.system_figures import set_threshold
    campaign = campaign_or_exit(campaign_id)
    with one_transaction():
        set_threshold(campaign, share, people)
    click.echo(f"{campaign.name}：填报与信息系统相差超过{share:.2%}且超过{people:,}人的予以标记")
