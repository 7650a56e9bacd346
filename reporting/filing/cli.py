"""报表的命令：reports import。"""
from __future__ import annotations

import os

import click

from reporting.cli import one_transaction, reports_cli
from reporting.extensions import db


@reports_cli.command("import")
@click.argument("period_id", type=int)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--submit", is_flag=True, help="导入后直接提交（否则存为草稿）")
@click.option("--reason", help="修改已提交报表的原因")
def reports_import(period_id: int, file: str, submit: bool, reason: str | None):
    """从信息系统导出的 .csv 或 .xlsx 批量导入一期报表（单位代码 + 各指标列），全部成功或全部不导入。"""
    import time

    from reporting.bulk import collector_paused
    from reporting.filing.filing import import_reports
    from reporting.models import Period
    from reporting.spreadsheets import TableError, read_table
    from reporting.tables import ImportRejected, file_digest, rows_from_table
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
