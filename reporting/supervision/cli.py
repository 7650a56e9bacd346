"""定时发送群机器人消息的命令 reminders auto：督办提醒与自动催报（督办提醒用催报的机器人，所以这条命令在两者之上）。"""
from __future__ import annotations

import time

import click
from flask import current_app

from reporting import clock
from reporting.cli import one_transaction, reminders_cli


@reminders_cli.command("auto")
@click.option("--every", type=int, default=0, help="每隔这么多秒再运行一次（默认只运行一次）")
def reminders_auto(every: int):
    """发送到期的自动催报（截止前N小时，N由征缴期设置）；可在多台实例上同时运行，不会重复发送。"""
    from reporting.reminders.reminders import deliver, robot_timeout, send_due
    from reporting.supervision.supervision import notify_due
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
