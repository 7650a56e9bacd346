"""催报的命令：reminders schedule，users webhook。"""
from __future__ import annotations

import click

from reporting import audit
from reporting.cli import one_transaction, reminders_cli, user_or_exit, users_cli
from reporting.extensions import db
from reporting.models import Campaign


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


@users_cli.command("webhook")
@click.argument("username")
@click.option("--kind", required=True, type=click.Choice(["wecom", "dingtalk"]), help="企业微信或钉钉群机器人")
@click.option("--url", help="机器人的Webhook地址；不给则删除该机器人")
@click.option("--secret", default="", help="钉钉加签密钥（SEC…）")
@click.option("--mobiles", default="", help="要@的手机号，逗号分隔（默认：用户的联系电话）")
def users_webhook(username: str, kind: str, url: str | None, secret: str, mobiles: str):
    """设置用户所在单位接收催报的群机器人。"""
    from reporting.reminders.reminders import set_webhook
    user = user_or_exit(username)
    with one_transaction():
        set_webhook(None, user, kind, url, secret, mobiles)
    click.echo(f"已{'删除' if url is None else '设置'}{username}的群机器人（{kind}）")
