"""部门与进度表指标的命令：departments add|list，indicators add。"""
from __future__ import annotations

import click

from reporting.cli import campaign_or_exit, departments_cli, indicators_cli, one_transaction
from reporting.extensions import db
from reporting.regions.cli import region_or_exit


@departments_cli.command("add")
@click.argument("campaign_id", type=int)
@click.option("--name", required=True, help="部门名称，如 区民政局")
@click.option("--indicators", "keys", required=True, help="部门填报的指标代码，逗号分隔")
@click.option("--region", "region_code", help="部门所在区划（默认为征缴期的覆盖范围）")
@click.option("--measure", help="对照任务数考核的指标（默认为其已参保类指标）")
def departments_add(campaign_id: int, name: str, keys: str, region_code: str | None, measure: str | None):
    """建立征缴期的一个部门（条线），每期填报所列指标；最后一行输出部门编号。"""
    from reporting.departments.departments import add_department
    campaign = campaign_or_exit(campaign_id)
    with one_transaction():
        department = add_department(campaign, name, keys.replace("，", ",").split(","),
                                    region=region_or_exit(region_code) if region_code else None, measure=measure)
    labels = {i.key: i.label for i in department.indicators()}
    click.echo(f"已建立部门 {department.name}（{department.region.name}），填报："
               f"{'、'.join(labels[k] for k in department.indicator_keys)}")
    click.echo(department.id)


@departments_cli.command("list")
@click.argument("campaign_id", type=int)
def departments_list(campaign_id: int):
    """列出征缴期的部门：编号、名称、所在区划、指标。"""
    from reporting.models import Department
    campaign = campaign_or_exit(campaign_id)
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
    from reporting.departments.departments import add_indicator
    campaign = campaign_or_exit(campaign_id)
    with one_transaction():
        indicator = add_indicator(campaign, key, label, part_of)
    click.echo(f"已增加部门指标 {indicator.key}（{indicator.label}）")
