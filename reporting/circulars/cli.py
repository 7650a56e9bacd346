"""通报的命令：circulars render|issuer|draft|issue。"""
from __future__ import annotations

import click

from reporting import audit, clock
from reporting.cli import circulars_cli, one_transaction, user_or_exit
from reporting.extensions import db
from reporting.regions.cli import region_or_exit


@circulars_cli.command("render")
@click.option("--region", "region_code", required=True, help="通报的区划代码（发文机关所在地）")
@click.option("--period", "period_id", required=True, type=int, help="报送期次编号")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
def circulars_render(region_code: str, period_id: int, out: str):
    """按当前数据生成该区划该期次的通报草稿 PDF（与网站印发的文件相同）。"""
    from reporting.circulars.circulars import build_document, default_title, draft_body, next_numbers, render_pdf
    from reporting.progress.ranking import progress
    from reporting.regions.issuers import issuing_body
    period, region = _circular_scope(region_code, period_id)
    campaign = period.campaign
    today = clock.today()
    result = progress(period, region)
    issue_no, seq = next_numbers(campaign, region, today.year)
    doc = build_document(period, region, title=default_title(campaign),
                         body=draft_body(result, campaign.requirements), issue_no=issue_no,
                         doc_prefix=issuing_body(region).prefix, doc_year=today.year, doc_seq=seq,
                         date=today, result=result)
    data = render_pdf(doc)
    with open(out, "wb") as f:
        f.write(data)
    db.session.rollback()  # a render writes nothing
    click.echo(f"已生成 {out}（{len(data) // 1024} KB）：{doc.full_title}")


def _circular_scope(region_code: str, period_id: int):
    from reporting.models import Period
    period = db.session.get(Period, period_id)
    if period is None:
        raise click.ClickException(f"报送期次 {period_id} 不存在")
    region = region_or_exit(region_code)
    campaign = period.campaign
    if not campaign.covers(region):
        raise click.ClickException(f"{region.name}不在征缴期“{campaign.name}”范围内")
    return period, region


def _signer(username: str | None, region):
    if not username:
        return None
    user = user_or_exit(username)
    if user.role != "city_admin" or not user.region.contains(region):
        raise click.ClickException(f"用户 {username} 无权签发{region.name}的通报")
    return user


@circulars_cli.command("issuer")
@click.argument("region_code")
@click.option("--prefix", help="机关代字，如 江海医保（发文字号的前缀，不能与其他发文机关相同）")
@click.option("--name", "name", help="发文机关，如 江门市江海区医疗保障局")
@click.option("--addressee", help="主送机关")
@click.option("--copy-to", "copy_to", help="抄送机关")
@click.option("--printed-by", "printed_by", help="印发机关")
def circulars_issuer(region_code: str, prefix: str | None, name: str | None, addressee: str | None,
                     copy_to: str | None, printed_by: str | None):
    """查看或设置一个区划的发文机关：机关代字、名称、主送、抄送、印发机关。"""
    from reporting.regions.issuers import check_prefix, issuing_body
    region = region_or_exit(region_code)
    with one_transaction():
        body = issuing_body(region)
        if prefix is not None:
            prefix = prefix.strip()
            if not prefix or len(prefix) > 20:
                raise click.BadParameter("机关代字应为1至20个字", param_hint="--prefix")
            check_prefix(region, prefix)
            body.prefix = prefix
        for field, value, limit in (("name", name, 100), ("addressee", addressee, 200),
                                    ("copy_to", copy_to, 300), ("printed_by", printed_by, 100)):
            if value is not None:
                if len(value.strip()) > limit or (field != "copy_to" and not value.strip()):
                    raise click.BadParameter(f"应为1至{limit}个字", param_hint=f"--{field.replace('_', '-')}")
                setattr(body, field, value.strip())
        if any(v is not None for v in (prefix, name, addressee, copy_to, printed_by)):
            if body.id is None:
                db.session.add(body)
            audit.record("issuer.update", None, region=region, target=f"{region.name}发文机关",
                         after={"prefix": body.prefix, "name": body.name})
    click.echo(f"{body.name}：机关代字 {body.prefix}；主送 {body.addressee}；"
               f"抄送 {body.copy_to or '无'}；印发机关 {body.printed_by}")


@circulars_cli.command("draft")
@click.option("--region", "region_code", required=True, help="通报的区划代码（发文机关所在地）")
@click.option("--period", "period_id", required=True, type=int, help="报送期次编号")
@click.option("--by", "username", help="起草人的用户名（默认：无，记为命令行）")
def circulars_draft(region_code: str, period_id: int, username: str | None):
    """按当前数据起草通报，并记下起草时的数据版本；最后一行是草稿编号。"""
    from reporting.circulars.circulars import new_draft
    period, region = _circular_scope(region_code, period_id)
    user = _signer(username, region)
    with one_transaction():
        draft = new_draft(period, region, user)
    click.echo(f"已起草 {region.name}{period.label}通报草稿（数据版本 {draft.data_version[:12]}）", err=True)
    click.echo(draft.id)


@circulars_cli.command("issue")
@click.option("--draft", "draft_id", type=int, help="要印发的通报草稿编号")
@click.option("--region", "region_code", help="通报的区划代码（发文机关所在地；不用 --draft 时）")
@click.option("--period", "period_id", type=int, help="报送期次编号（不用 --draft 时）")
@click.option("--regenerate", is_flag=True, help="起草后数据有变化时，按最新数据重新生成正文再印发")
@click.option("--as-drafted", "as_drafted", is_flag=True, help="起草后数据有变化时，正文和附件都按起草时的数据印发")
@click.option("--by", "username", help="签发人的用户名（默认：无，记为命令行）")
def circulars_issue(draft_id: int | None, region_code: str | None, period_id: int | None, regenerate: bool,
                    as_drafted: bool, username: str | None):
    """印发通报（编号、冻结数据、PDF、锁定已报数据），与网站“签发”相同：--draft 印发一份草稿；
    --region 与 --period 起草并立即印发。"""
    from reporting.circulars.circulars import issue, new_draft
    from reporting.models import Circular
    if regenerate and as_drafted:
        raise click.UsageError("--regenerate 与 --as-drafted 只能选一个")
    if draft_id is not None:
        if region_code is not None or period_id is not None:
            raise click.UsageError("用 --draft 时不再需要 --region 和 --period")
        draft = db.session.get(Circular, draft_id)
        if draft is None:
            raise click.ClickException(f"通报草稿 {draft_id} 不存在")
        if draft.status == "issued":
            raise click.ClickException(f"通报 {draft_id} 已印发（{draft.doc_number}），不能再次印发")
        region = draft.region
    elif region_code is None or period_id is None:
        raise click.UsageError("请用 --draft 草稿编号，或同时给出 --region 和 --period")
    else:
        if regenerate or as_drafted:
            raise click.UsageError("--regenerate 与 --as-drafted 只用于 --draft")
        period, region = _circular_scope(region_code, period_id)
    user = _signer(username, region)
    mode = "regenerate" if regenerate else "as_drafted" if as_drafted else None
    with one_transaction():
        if draft_id is None:
            draft = new_draft(period, region, user)
        circular = issue(draft, user, mode=mode)
    click.echo(f"已印发 {circular.doc_number}（第{circular.issue_no}期）：{circular.title}", err=True)
    click.echo(circular.id)
