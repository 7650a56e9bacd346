"""通报: drafted from the live numbers, edited as text, issued once with its numbers frozen."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Callable, Optional

from markupsafe import Markup
from sqlalchemy import func, select

from . import audit, charts, clock
from . import circular_document as document
from .extensions import db
from .departments import STANDING, DepartmentProgress, department_progress
from .filters import month_day, percent, points
from .hierarchy import child_level
from .models import LEVELS, Campaign, Circular, IssuingBody, Period, Region, User
from .ranking import LATE_NAMES, LIGHTS, Progress, UnitProgress, light, progress, progress_json
from .review import publication_lines, publish
from .rollup import FilingCounts, Totals, basis, filing_counts, ratio, task_totals, totals_by_period
from .schedule import time_progress

SCOPE_WORDS = {"province": "全省", "city": "全市", "county": "全县", "township": "全镇", "village": "全村"}
UNIT_WORDS = {"city": "各市", "county": "各县（市、区）", "township": "各镇（街）", "village": "各村（社区）"}
ADDRESSEES = {"province": "各市医疗保障局", "city": "各县（市、区）医疗保障局",
              "county": "各镇人民政府、街道办事处", "township": "各村（居）委会"}
DEFAULT_REQUIREMENTS = (
    "（一）压实工作责任。各地要对照目标任务，坚持“一把手”亲自抓，逐级分解任务，确保按期完成参保缴费工作。\n"
    "（二）聚焦薄弱环节。进度滞后的地区要认真分析原因，制定针对性措施，加快工作进度；"
    "对困难群众逐一核实，确保应保尽保。\n"
    "（三）按时报送数据。各地要严格按照时间节点报送参保进度表，确保数据真实准确；"
    "对逾期不报、数据不实的，将予以通报批评。"
)
HEADING_1 = re.compile(r"^[一二三四五六七八九十]+、")
HEADING_2 = re.compile(r"^（[一二三四五六七八九十]+）")


def issuing_body(region: Region) -> IssuingBody:
    """The region's bureau, with sensible defaults until an admin sets its own (not saved here)."""
    body = db.session.scalar(select(IssuingBody).where(IssuingBody.region_id == region.id))
    if body is None:
        body = IssuingBody(region=region, region_id=region.id, name=f"{region.name}医疗保障局",
                           prefix=f"{region.name[0]}医保", addressee=ADDRESSEES.get(region.level, ""),
                           copy_to="", printed_by=f"{region.name}医疗保障局办公室")
    return body


def annual_name(campaign: Campaign) -> str:
    """The enrollment year as the campaign names it (2023年度), else the year of its window's end."""
    match = re.search(r"(\d{4})年度", campaign.name)
    return match.group(0) if match else f"{campaign.end.year + 1}年度"


def default_title(campaign: Campaign) -> str:
    return f"关于{annual_name(campaign)}城乡居民基本医疗保险参保缴费工作进展情况的通报"


# --- the body, written from the numbers -----------------------------------------------------

def _names(units: list[UnitProgress]) -> str:
    return "、".join(u.region.name for u in units)


def _measure_word(head: UnitProgress) -> str:
    return "完成率" if head.task else "参保率"


CHINESE_NUMBERS = "零一两三四五六七八九十"


def cn_number(n: int) -> str:
    """两 for 2, as circulars write counts (连续两期); digits beyond ten."""
    return CHINESE_NUMBERS[n] if 0 <= n <= 10 else str(n)


def _bottom_words(bottom: int) -> str:
    return "排名末位" if bottom == 1 else f"排名后{cn_number(bottom).replace('两', '二')}位"


def _tied_at(units: list[UnitProgress], value) -> list[UnitProgress]:
    return [u for u in units if u.main_measure is not None and abs(u.main_measure - value) < 1e-12]


def draft_body(result: Progress, requirements: str = "") -> str:
    """The four parts of a progress circular, in the sentences real circulars use, all on the one
    basis: a unit that has not filed counts with the figures it last filed, and before the due
    date it is 待报, named, but neither criticised nor 约谈."""
    head, rows, period = result.region, result.children, result.period
    scope = SCOPE_WORDS.get(head.region.level, "全区")
    units_word = UNIT_WORDS.get(rows[0].region.level, "各地") if rows else "各地"
    as_of = month_day(period.as_of)
    word = _measure_word(head)
    lines = [f"现将截至{as_of}{scope}城乡居民基本医疗保险参保缴费工作进展情况通报如下：", "一、总体进展"]

    sentence = f"截至{as_of}，{scope}已参保缴费{head.enrolled or 0:,}人"
    if head.task:
        sentence += f"，完成目标任务的{percent(head.completion)}"
    if head.increase is not None:
        change = head.increase * 100
        sentence += f"，较上期{'提高' if change >= 0 else '下降'}{abs(change):.2f}个百分点"
    measure = head.main_measure
    if measure is not None:
        gap = (measure - result.time_progress) * 100
        sentence += f"，{'高于' if gap >= 0 else '低于'}序时进度{abs(gap):.2f}个百分点"
    sentence += "。"
    if head.rate is not None:
        unfiled = head.never_filed if rows else 0
        sentence += f"居民医保参保率为{percent(head.rate)}" + (
            f"（不含{unfiled}个尚未报送过数据的单位）" if unfiled else "") + "。"
    lines.append(sentence + year_over_year_sentence(result, scope) + _filing_sentence(result, units_word))

    lines.append("二、各地进展")
    valued = [r for r in rows if r.main_measure is not None]
    ahead = sorted([r for r in valued if r.main_measure >= result.time_progress], key=lambda r: -r.main_measure)
    laggards = sorted([r for r in valued if r.main_measure < result.time_progress], key=lambda r: r.main_measure)
    leaders = ahead[:3]
    if leaders:
        lowest = leaders[-1].main_measure
        leaders = [r for r in ahead if r.main_measure >= lowest - 1e-12]  # a tie at the cut stays in
        lines.append(f"{_names(leaders)}{word}达到{percent(lowest)}以上，进度较快。")
    if laggards:
        worst = _tied_at(laggards, laggards[0].main_measure)
        text = f"{_names(laggards)}{word}低于序时进度（{percent(result.time_progress)}），"
        if len(laggards) > len(worst):
            text += f"其中{_names(worst)}仅为{percent(worst[0].main_measure)}，进度滞后。"
        else:
            text += f"{'均' if len(worst) > 1 else ''}仅为{percent(worst[0].main_measure)}，进度滞后。"
        lines.append(text)
    if not leaders and not laggards:
        lines.append(f"本期{units_word}尚无已提交的数据。")
    carried = [r for r in rows if r.carried_from is not None and not r.totals.reports]
    if carried:
        by_period: dict[int, list[UnitProgress]] = {}
        for r in carried:
            by_period.setdefault(r.carried_from.seq, []).append(r)
        lines.append("；".join(f"{_names(units)}本期数据沿用第{seq}期" for seq, units in sorted(by_period.items()))
                     + "。")

    departments = department_progress(period, head.region, clock.now())
    numbers = iter("三四五")
    if departments:
        lines.append(f"{next(numbers)}、部门报送情况")
        lines.append(department_sentence(departments, scope))

    lines.append(f"{next(numbers)}、存在问题")
    problems = []
    late_units = [r for r in rows if r.late in ("late", "missing")]
    if late_units:
        problems.append(f"{_names(late_units)}未按时报送进度表，予以通报批评。")
    interviewed = result.interviews
    if interviewed:
        bottom, streak = result.rule
        problems.append(f"{_names(interviewed)}连续{cn_number(streak)}期{_bottom_words(bottom)}，"
                        "将按规定约谈其主要负责人。")
    missing_forecast = [r for r in rows if r.forecast.misses]
    if missing_forecast:
        problems.append(f"按近两期进度测算，{_names(missing_forecast)}预计无法在"
                        f"{month_day(result.campaign.end)}前完成目标任务，请加快进度。")
    gaps = [r for r in rows if r.hardship_gap]
    if head.hardship_gap:
        where = f"（涉及{_names(gaps)}）" if gaps else ""
        problems.append(f"困难群众参保尚有{head.hardship_gap:,}人未覆盖{where}，请相关单位逐一核实，确保应保尽保。")
    anomalous = [r for r in rows if r.anomalies]
    if anomalous:
        problems.append(f"{_names(anomalous)}报送数据存在异常（如参保人数较上期减少），请核实后更正。")
    problems.extend(publication_lines(period, head.region))
    if not problems:
        problems.append("本期各地均按时报送，未发现突出问题。" if not result.pending else "本期未发现突出问题。")
    lines.extend(problems)

    lines.append(f"{next(numbers)}、下一步工作要求")
    lines.extend(line for line in (requirements or DEFAULT_REQUIREMENTS).splitlines() if line.strip())
    return "\n".join(lines)


def year_over_year_sentence(result: Progress, scope: str) -> str:
    """较上年同期: the people enrolled and the main measure against the previous campaign at the same
    date; nothing when there is no previous campaign."""
    if result.same_time is None:
        return ""
    head = result.region
    last = head.last_year
    if last is None:
        return f"{scope}无上年同期数据。"
    text = f"与上年同期（截至{last.as_of.year}年{month_day(last.as_of)}）相比，"
    people = head.yoy_enrolled
    if people is not None:
        text += f"已参保缴费人数{'增加' if people >= 0 else '减少'}{abs(people):,}人"
    change = head.yoy_change(result.measure)
    if change is not None:
        word = "完成率" if head.yoy_measure(result.measure) == "completion" else "参保率"
        text += ("，" if people is not None else "") + \
            f"{word}较上年同期{'提高' if change >= 0 else '下降'}{abs(change) * 100:.2f}个百分点"
    return text + "。"


def _filing_sentence(result: Progress, units_word: str) -> str:
    """Who reported, named: 均按时报送; X迟报; Y逾期未报送; or, before the due date, who is still to report."""
    rows, period = result.children, result.period
    if not rows:
        counts = result.region.counts
        return f"本期应报{counts.units}个单位，已报{counts.submitted}个。" if counts.units else ""
    late = [r for r in rows if r.late == "late"]
    missing = [r for r in rows if r.late == "missing"]
    pending = [r for r in rows if r.late == "pending"]
    if not (late or missing or pending):
        return f"本期{units_word}均按时报送。"
    text = ""
    if late or missing:
        parts = [f"{_names(late)}迟报"] if late else []
        if missing:
            parts.append(f"{_names(missing)}逾期未报送")
        if len(rows) > len(late) + len(missing) + len(pending):
            parts.append("其余均按时报送")
        text += "本期" + "，".join(parts) + "。"
    if pending:
        text += (f"本期报送截止时间为{month_day(period.due)}，尚未到报送截止时间，"
                 f"{_names(pending)}尚未报送，暂按已报送的最近一期数据计算。")
    return text


def department_sentence(departments: list[DepartmentProgress], scope: str) -> str:
    """部门报送情况: who filed on time, and the late departments named for 通报批评."""
    on_time = [d for d in departments if d.late == "on_time"]
    late = [d for d in departments if d.late in ("late", "missing")]
    pending = [d for d in departments if d.late == "pending"]
    sentence = f"本期应报送进度的{len(departments)}个部门中，{len(on_time)}个按时报送"
    if late:
        sentence += f"，{len(late)}个未按时报送"
    if pending:
        sentence += f"，{len(pending)}个尚未到报送截止时间"
    sentence += f"（各部门数据与各地数据有重叠，不计入{scope}合计，详见附件）。"
    figures = [f"{d.department.name}{_department_figure(d)}" for d in departments if not d.never_filed]
    if figures:
        sentence += "；".join(figures) + "。"
    if late:
        sentence += f"{'、'.join(d.department.name for d in late)}未按时报送参保缴费进度，予以通报批评。"
    return sentence


def _department_figure(d: DepartmentProgress) -> str:
    labels = {i.key: i.label for i in d.department.indicators()}
    text = f"{labels[d.department.measure]}{d.measured:,}人"
    if d.task:
        text += f"，完成任务的{percent(d.completion)}"
    elif d.rate is not None:
        text += f"，参保率{percent(d.rate)}"
    if d.carried_from is not None:
        text += f"（沿用第{d.carried_from.seq}期数据）"
    return text


def department_table(departments: list[DepartmentProgress]) -> document.Table:
    # narrow enough for one line a row: which count is measured, and what is carried, the paragraph says
    header = ["部门", "已参保（缴费）人数", "任务数", "完成率", "参保率", "进度", "报送"]
    rows = [[d.department.name, _count(d.measured), _count(d.task), percent(d.completion), percent(d.rate),
             LIGHTS[d.light], STANDING[d.late]] for d in departments]
    return document.Table(header, rows)


def parse_body(text: str) -> list[document.Section]:
    """Sections from the edited text: 一、 lines open a part, （一） lines are its sub-headings."""
    sections: list[document.Section] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if HEADING_1.match(line):
            sections.append(document.Section(line))
            continue
        if not sections:
            sections.append(document.Section(""))  # the opening paragraph before 一、
        if HEADING_2.match(line):
            head, stop, rest = line.partition("。")
            paragraph = document.Paragraph(text=rest, heading=head + stop) if rest else \
                document.Paragraph(heading=line)
        else:
            paragraph = document.Paragraph(text=line)
        sections[-1].paragraphs.append(paragraph)
    return sections


# --- attachments ---------------------------------------------------------------------------

def ranking_table(result: Progress) -> document.Table:
    """The ranking annex. With last year's campaign it has a 较上年同期 column; to keep the table
    within the type area, 较上期's unit (百分点) then goes to the annex title and the light joins
    the 报送 cell (绿 按时)."""
    yoy = result.same_time is not None
    if yoy:
        header = ["排名", "单位", "任务数", "已参保人数", "完成率", "参保率", "较上期", "较上年同期", "进度、报送"]
    else:
        header = ["排名", "单位", "任务数", "已参保人数", "完成率", "参保率", "较上期（百分点）", "进度", "报送"]

    def tail(r: UnitProgress, standing: str) -> list[str]:
        if yoy:
            # a space, not a comma: the light and the first word stay on one line (绿 按时)
            return [points(r.yoy_change(result.measure)), " ".join(w for w in (LIGHTS[r.light], standing) if w)]
        return [LIGHTS[r.light], standing]
    rows = [[str(r.rank), r.region.name, _count(r.task), _count(r.enrolled), percent(r.completion),
             percent(r.rate), "—" if r.increase is None else f"{r.increase * 100:+.2f}",
             *tail(r, LATE_NAMES[r.late] + _carried_note(r) + ("，约谈" if r.interview else ""))]
            for r in sorted(result.children, key=lambda r: (r.rank, r.region.code))]
    head = result.region
    rows.append(["", "合计", _count(head.task), _count(head.enrolled), percent(head.completion),
                 percent(head.rate), "—" if head.increase is None else f"{head.increase * 100:+.2f}",
                 *tail(head, "")])
    return document.Table(header, rows)


def grandchildren_table(period: Period, region: Region, result: Optional[Progress] = None) -> Optional[document.Table]:
    """The units two levels down (a city's townships), grouped by their parent, on the one basis."""
    campaign = period.campaign
    child = child_level(region.level)
    grandchild = child_level(child) if child else None
    if grandchild is None or LEVELS.index(grandchild) > LEVELS.index(campaign.report_level):
        return None
    series = basis(period, region, grandchild)
    tasks = task_totals(campaign, region, grandchild)
    units = db.session.scalars(select(Region).where(
        getattr(Region, f"{region.level}_id") == region.id, Region.level == grandchild)
        .order_by(Region.code)).all()
    parents = {r.id: r.name for r in db.session.scalars(select(Region).where(
        Region.id.in_({u.parent_id for u in units})))}
    progress_at = time_progress(campaign, period.as_of)
    overdue = (result.today if result else clock.today()) > period.due
    rows = []
    for unit in units:
        totals = (series.get(unit.id) or [Totals({})])[-1]
        enrolled, task = totals.get("enrolled"), tasks.get(unit.id)
        completion = ratio(enrolled or 0, task)
        measure = completion if task else totals.rate
        counts = FilingCounts(unit.units(campaign.report_level), totals.reports, totals.late, overdue)
        status = LATE_NAMES[counts.status] + (f"（沿用第{totals.carried_from.seq}期）"
                                              if totals.carried_from and not totals.reports else "")
        rows.append([parents.get(unit.parent_id, ""), unit.name, _count(task), _count(enrolled),
                     percent(completion), percent(totals.rate), LIGHTS[light(measure, progress_at)], status])
    header = [{"county": "县（市、区）", "city": "市", "township": "镇（街）"}.get(child, "上级"),
              {"township": "镇（街）", "village": "村（社区）", "county": "县（市、区）"}.get(grandchild, "单位"),
              "任务数", "已参保人数", "完成率", "参保率", "进度", "报送"]
    return document.Table(header, rows)


def _carried_note(row: UnitProgress) -> str:
    """沿用第N期 when a unit counts with an earlier period's figures."""
    if row.carried_from is not None and not row.totals.reports:
        return f"（沿用第{row.carried_from.seq}期）"
    return ""


def _count(value) -> str:
    return "—" if value is None else f"{value:,}"


def chart_attachments(period: Period, region: Region, result: Progress) -> list[document.Attachment]:
    word = charts.measure_word(result)
    points = [replace(p, label=month_day(day.as_of)) for p, day in zip(charts.progress_points(result), result.periods)]
    attachments = [document.Attachment(f"{region.name}累计参保进度图", svg=Markup(
        charts.progress_chart(points, title=f"{region.name}累计参保人数与{word}", measure=word)))]
    if 0 < len(result.children) <= 40:  # a taller chart would not fit one page
        units_word = UNIT_WORDS.get(result.children[0].region.level, '各地')
        attachments.append(document.Attachment(f"{region.name}{units_word}{word}", svg=Markup(
            charts.unit_bars(result, f"{units_word}{word}"))))
    return attachments


# --- the document --------------------------------------------------------------------------

def next_numbers(campaign: Campaign, region: Region, year: int) -> tuple[int, int]:
    """(第N期 of this campaign for this region, the next 发文字号 sequence of the bureau's year)."""
    issue = db.session.scalar(select(func.max(Circular.issue_no)).where(
        Circular.campaign_id == campaign.id, Circular.region_id == region.id)) or 0
    seq = db.session.scalar(select(func.max(Circular.doc_seq)).where(
        Circular.region_id == region.id, Circular.doc_year == year)) or 0
    return issue + 1, seq + 1


def build_document(period: Period, region: Region, *, title: str, body: str, issue_no: int,
                   doc_prefix: str, doc_year: int, doc_seq: int, date: dt.date,
                   result: Optional[Progress] = None) -> document.Circular:
    bureau = issuing_body(region)
    result = result or progress(period, region)
    attachments = []
    if result.children:
        units_word = UNIT_WORDS.get(result.children[0].region.level, "各地")
        attachments.append(document.Attachment(
            f"{annual_name(period.campaign)}{units_word}参保进度排名表（截至{month_day(period.as_of)}"
            + ("；较上期、较上年同期单位：百分点）" if result.same_time else "）"),
            table=ranking_table(result)))
        deeper = grandchildren_table(period, region, result)
        if deeper is not None and deeper.rows:
            attachments.append(document.Attachment(
                f"{annual_name(period.campaign)}{UNIT_WORDS.get(child_level(child_level(region.level)), '')}"
                f"参保进度表（截至{month_day(period.as_of)}）", table=deeper))
    departments = department_progress(period, region, clock.now())
    if departments:
        attachments.append(document.Attachment(
            f"{annual_name(period.campaign)}部门报送情况表（截至{month_day(period.as_of)}）",
            table=department_table(departments)))
    attachments.extend(chart_attachments(period, region, result))
    return document.Circular(
        issuer_mark=bureau.name, number=document.DocumentNumber(doc_prefix, doc_year, doc_seq),
        title=title, addressee=bureau.addressee, sections=parse_body(body),
        signature=document.Signature(bureau.name, date),
        imprint=document.Imprint(bureau.printed_by, date, bureau.copy_to), issue=issue_no,
        attachments=attachments, as_of=period.as_of, show_issue=period.campaign.circular_issue_line)


def new_draft(period: Period, region: Region, user: Optional[User] = None) -> Circular:
    """A draft circular with its body written from the numbers (added to the session)."""
    campaign = period.campaign
    draft = Circular(campaign=campaign, period=period, region=region, status="draft",
                     title=default_title(campaign),
                     body=draft_body(progress(period, region), campaign.requirements),
                     created_at=clock.now(), created_by_id=user.id if user else None)
    db.session.add(draft)
    db.session.flush()
    return draft


def draft_document(circular: Circular) -> document.Circular:
    """A draft as it would print if issued now: the next numbers, today's date, live data."""
    today = clock.today()
    issue_no, seq = next_numbers(circular.campaign, circular.region, today.year)
    return build_document(circular.period, circular.region, title=circular.title, body=circular.body,
                          issue_no=issue_no, doc_prefix=issuing_body(circular.region).prefix,
                          doc_year=today.year, doc_seq=seq, date=today)


def render_pdf(doc: document.Circular) -> bytes:
    return render_pdf_html(document.render_circular_html(doc))


def render_pdf_html(html: str) -> bytes:
    from .pdf import create_pdf
    return create_pdf(html, closing=document.closing_html(html))


def issue(circular: Circular, user: Optional[User],
          step: Callable[[str], None] = lambda name: None) -> Circular:
    """Freeze the numbers and the text, render and keep the PDF, take the next numbers.

    `step` hears each stage (rollup, render), so that a background job can show its progress.
    """
    if circular.status == "issued":
        raise ValueError("该通报已印发，不能再次印发")
    now = clock.now()
    step("rollup")
    result = progress(circular.period, circular.region)
    issue_no, seq = next_numbers(circular.campaign, circular.region, now.year)
    bureau = issuing_body(circular.region)
    doc = build_document(circular.period, circular.region, title=circular.title, body=circular.body,
                         issue_no=issue_no, doc_prefix=bureau.prefix, doc_year=now.year, doc_seq=seq,
                         date=now.date(), result=result)
    step("render")
    circular.html = document.render_circular_html(doc)
    circular.pdf = render_pdf_html(circular.html)
    circular.snapshot = {**progress_json(result), "departments": [
        d.as_json() for d in department_progress(circular.period, circular.region, now)]}
    circular.issue_no, circular.doc_prefix, circular.doc_year, circular.doc_seq = issue_no, bureau.prefix, now.year, seq
    circular.status, circular.issued_at, circular.issued_by_id = "issued", now, user.id if user else None
    db.session.flush()  # the unique numbers reject a concurrent issue of the same sequence
    publish(circular, user)
    audit.record("circular.issue", user, region=circular.region, target=circular.doc_number,
                 after={"issue_no": issue_no, "title": doc.full_title, "period": circular.period.label})
    return circular
