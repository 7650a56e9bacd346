"""行政区划的命令：regions import。"""
from __future__ import annotations

import sys

import click

from reporting import versions
from reporting.cli import one_transaction, regions_cli
from reporting.extensions import db
from reporting.models import Campaign
from reporting.regions.hierarchy import DivisionFileError, import_divisions, region_by_code


def region_or_exit(code: str):
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
