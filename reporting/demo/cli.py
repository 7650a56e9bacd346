"""演示数据的命令：demo。"""
from __future__ import annotations

import click

from reporting.cli import one_transaction


@click.command("demo")
@click.option("--set", "which", default="jiangmen", type=click.Choice(["jiangmen", "ninghe"]),
              help="jiangmen：江门市（半月报，默认）；ninghe：宁河区（周报，镇街与六个部门）")
def demo_command(which: str):
    """载入演示数据（可重复执行）：默认江门市，--set ninghe 为宁河区。"""
    if which == "ninghe":
        from reporting.demo.ninghe import load_ninghe as load
    else:
        from reporting.demo.jiangmen import load_demo as load
    with one_transaction():
        summary = load(echo=lambda line: click.echo(line))
    click.echo(summary)
