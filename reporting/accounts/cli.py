"""用户的命令：users create|unlock|token。"""
from __future__ import annotations

import secrets

import click

from reporting import audit
from reporting.cli import check_lengths, one_transaction, user_or_exit, users_cli
from reporting.extensions import db
from reporting.models import ROLES, ApiToken, User
from reporting.regions.cli import region_or_exit
from reporting.validation import FILER_LIMITS


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
    from reporting.accounts.accounts import generated_password, password_problem
    from reporting.models import Department
    check_lengths(("用户名", username, 50), ("姓名", full_name, FILER_LIMITS["name"]),
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
        region = department.region if department else region_or_exit(region_code)
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
    user = user_or_exit(username)
    from reporting.accounts.accounts import unlock
    with one_transaction():
        unlock(None, user)
    click.echo(f"已解锁用户 {username}")


@users_cli.command("token")
@click.argument("username")
def users_token(username: str):
    """为用户生成一个新的API令牌，打印在最后一行（库中只存其哈希）。"""
    user = user_or_exit(username)
    token = secrets.token_urlsafe(32)
    with one_transaction():
        db.session.add(ApiToken(user=user, digest=ApiToken.hash(token), label="命令行生成"))
        audit.record("token.create", None, region=user.region, target=f"用户 {username} 的API令牌")
    click.echo(token)
