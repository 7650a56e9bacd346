"""通报: drafted from the live numbers, edited as text, issued once with its numbers frozen."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Optional

from flask import current_app
from markupsafe import Markup
from sqlalchemy import func, select

from reporting import audit, clock, jobs, outages
from reporting.calendar.schedule import time_progress
from reporting.circulars import document, wording
from reporting.departments.departments import DepartmentProgress, department_progress
from reporting.extensions import db
from reporting.filters import LATE_NAMES, month_day, percent, points
from reporting.models import LEVELS, Campaign, Circular, Period, Region, User, child_level
from reporting.progress import charts
from reporting.progress.ranking import LIGHTS, Progress, UnitProgress, figures_basis, light, progress, progress_json
from reporting.progress.rollup import (
    MEASURE_WORDS,
    FilingCounts,
    Totals,
    main_measure,
    main_measure_name,
    ratio,
    task_totals,
)
from reporting.regions.issuers import issuing_body, scope_word
from reporting.review.review import publication_lines, publish
from reporting.supervision import supervision

if TYPE_CHECKING:
    import weasyprint

UNIT_WORDS = {"city": "各市", "county": "各县（市、区）", "township": "各镇（街）", "village": "各村（社区）"}
HEADING_1 = re.compile(r"^[一二三四五六七八九十]+、")
HEADING_2 = re.compile(r"^（[一二三四五六七八九十]+）")


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
    return MEASURE_WORDS[main_measure_name(head.task)]


CHINESE_NUMBERS = "零一两三四五六七八九十"


def cn_number(n: int) -> str:
    """两 for 2, as circulars write counts (连续两期); digits beyond ten."""
    return CHINESE_NUMBERS[n] if 0 <= n <= 10 else str(n)


def _bottom_words(bottom: int) -> str:
    return "排名末位" if bottom == 1 else f"排名后{cn_number(bottom).replace('两', '二')}位"


def _tied_at(units: list[UnitProgress], value) -> list[UnitProgress]:
    return [u for u in units if u.main_measure is not None and abs(u.main_measure - value) < 1e-12]


def _noun(rows: list[UnitProgress]) -> str:
    """县（市、区）, 镇（街）, 村（社区）: the units' kind without 各."""
    return (UNIT_WORDS.get(rows[0].region.level, "各地") if rows else "各地").removeprefix("各")


def _group(units: list[UnitProgress], rows: list[UnitProgress], scope: str,
           behind: Callable[[UnitProgress], float] = lambda r: r.main_measure or 0) -> wording.Group:
    return wording.group(units, rows, scope=scope, noun=_noun(rows), name=lambda r: r.region.name, behind=behind)


def _furthest(found: wording.Group, key: str = "furthest") -> str:
    return wording.furthest(found, key, name=lambda r: r.region.name)


def _filing_behind(r: UnitProgress) -> tuple:
    """Furthest behind in reporting: the most report-level units outstanding, then the most late."""
    return -(r.counts.units - r.counts.submitted), -r.counts.late, r.main_measure or 0


def _pending_note(pending: list[UnitProgress]) -> str:
    """（A、B，沿用第5期数据）: who is 待报 (up to five named) and the figures they count with."""
    seqs = {r.carried_from.seq if r.carried_from else None for r in pending}
    parts = [_names(pending)] if len(pending) <= wording.MAX_NAMED else []
    if len(seqs) == 1 and None not in seqs:
        parts.append(f"沿用第{seqs.pop()}期数据")
    elif seqs != {None}:
        parts.append("暂按其最近一期已报数据计算")
    return f"（{'，'.join(parts)}）" if parts else ""


def draft_body(result: Progress, requirements: str = "") -> str:
    """The parts of a progress circular, in the sentences real circulars use, all on the one
    basis: a unit that has not filed counts with the figures it last filed, and before the due
    date it is 待报, named with the period it carries, but neither called 进度滞后, criticised
    nor 约谈. More than five units sharing a statement are counted, the three furthest behind named."""
    head, rows, period = result.region, result.children, result.period
    scope = scope_word(head.region)
    units_word = UNIT_WORDS.get(rows[0].region.level, "各地") if rows else "各地"
    as_of = month_day(period.as_of)
    word = _measure_word(head)
    lines = [wording.phrase("opening", as_of=as_of, scope=scope), "一、总体进展"]

    sentence = wording.phrase("headline", as_of=as_of, scope=scope, enrolled=f"{head.enrolled or 0:,}")
    if head.task:
        sentence += wording.phrase("headline_completion", completion=percent(head.completion))
    if head.increase is not None:
        change = head.increase * 100
        sentence += (wording.phrase("headline_level") if f"{abs(change):.2f}" == "0.00" else
                     wording.phrase("headline_change", direction="提高" if change >= 0 else "下降",
                                    points=f"{abs(change):.2f}"))
    measure = head.main_measure
    if measure is not None:
        gap = (measure - result.time_progress) * 100
        sentence += wording.phrase("headline_time_progress", direction="高于" if gap >= 0 else "低于",
                                   points=f"{abs(gap):.2f}")
    sentence += "。"
    if head.rate is not None:
        unfiled = head.never_filed if rows else 0
        sentence += wording.phrase("headline_rate", rate=percent(head.rate)) + (
            wording.phrase("headline_rate_unfiled", count=unfiled) if unfiled else "") + "。"
    lines.append(sentence + year_over_year_sentence(result, scope) + _filing_sentence(result, units_word, scope)
                 + basis_sentence(result))

    lines.append("二、各地进展")
    valued = [r for r in rows if r.main_measure is not None]
    ahead = sorted([r for r in valued if r.main_measure >= result.time_progress and r.late != "pending"],
                   key=lambda r: -r.main_measure)
    # a unit still 待报 is not judged on the figures it carries
    laggards = sorted([r for r in valued if r.main_measure < result.time_progress and r.late != "pending"],
                      key=lambda r: r.main_measure)
    leaders = ahead[:3]
    if leaders:
        lowest = leaders[-1].main_measure
        leaders = [r for r in ahead if r.main_measure >= lowest - 1e-12]  # a tie at the cut stays in
        lines.append(wording.phrase("leaders", names=_names(leaders), word=word, value=percent(lowest)))
    if laggards:
        lines.append(_laggards_sentence(laggards, rows, scope, word, result.time_progress))
    waiting = [r for r in rows if r.late == "pending"]
    if waiting and len(waiting) == len(rows):
        lines.append(wording.phrase("awaiting", units=units_word, due=month_day(period.due)))
    elif not leaders and not laggards and not waiting:
        lines.append(wording.phrase("no_figures", units=units_word))
    carried = [r for r in rows if r.carried_from is not None and not r.totals.reports and r.late != "pending"]
    if carried:
        by_period: dict[int, list[UnitProgress]] = {}
        for r in carried:
            by_period.setdefault(r.carried_from.seq, []).append(r)
        lines.append("；".join(wording.phrase("carried", who=found.who, both=found.both, seq=seq)
                              for seq, units in sorted(by_period.items())
                              for found in [_group(units, rows, scope)]) + "。")

    departments = department_progress(period, head.region, clock.now())
    numbers = iter("三四五")
    if departments:
        lines.append(f"{next(numbers)}、部门报送情况")
        lines.append(department_sentence(departments, scope, period))

    lines.append(f"{next(numbers)}、存在问题")
    problems = []
    late_units = [r for r in rows if r.late in ("late", "missing")]
    if late_units:
        found = _group(late_units, rows, scope, behind=_filing_behind)
        problems.append(wording.phrase("late", subject=found.subject, detail=_furthest(found, "furthest_marked")))
    bottom, streak = result.rule
    rule_words = dict(streak=cn_number(streak), bottom=_bottom_words(bottom))
    interviewed = result.interviews
    if interviewed:
        below = result.campaign.interview_below_time_progress(rows[0].region.level)
        found = _group(interviewed, rows, scope)
        problems.append(wording.phrase("interview_below" if below else "interview", subject=found.subject,
                                       detail=_furthest(found), **rule_words))
    # before the due date the units the rule would list are 预警: the 约谈 belongs to a closed period
    would_be = [r for r in result.warnings if len(r.standings) >= streak and r.late != "pending"] \
        if not result.overdue else []
    if would_be:
        found = _group(would_be, rows, scope)
        problems.append(wording.phrase("interview_warning", subject=found.subject, detail=_furthest(found),
                                       due=month_day(period.due), **rule_words))
    missing_forecast = [r for r in rows if r.forecast.misses]
    if missing_forecast:
        found = _group(missing_forecast, rows, scope, behind=lambda r: r.forecast.projected or 0)
        problems.append(wording.phrase("forecast", subject=found.subject, end=month_day(result.campaign.end),
                                       detail=_furthest(found)))
    gaps = [r for r in rows if r.hardship_gap]
    if result.hardship_gap and gaps:
        found = _group(gaps, rows, scope, behind=lambda r: -r.hardship_gap)
        problems.append(wording.phrase("hardship", count=f"{result.hardship_gap:,}", subject=found.number,
                                       detail=_furthest(found, "hardship_furthest")))
    elif result.hardship_gap:
        problems.append(wording.phrase("hardship_alone", count=f"{result.hardship_gap:,}"))
    ahead = [r for r in rows if (r.system_difference or 0) > 0]
    if ahead:
        problems.append("；".join(f"{r.region.name}填报已参保人数高于信息系统{r.system_difference:,}人"
                                 for r in ahead) + "，请核实。")
    anomalous = [r for r in rows if r.anomalies]
    if anomalous:
        found = _group(anomalous, rows, scope, behind=lambda r: -len(r.anomalies))
        problems.append(wording.phrase("anomalies", subject=found.subject, detail=_furthest(found, "furthest_marked")))
    problems.extend(publication_lines(period, head.region))
    today = result.today or clock.today()
    facts = supervision.circular_facts(period, head.region, today)
    problems.extend(supervision_sentences(facts))
    late_departments = [d for d in departments if d.late in ("late", "missing")]
    if not problems and laggards:
        found = _group(laggards, rows, scope)
        problems.append(wording.phrase("lagging_problem", who=found.who, both=found.both, detail=_furthest(found)))
    doubtful = [d for d in departments if d.anomalies]
    if doubtful:
        problems.append(wording.phrase("department_anomalies", names="、".join(d.department.name for d in doubtful)))
    if not problems and not result.warnings:
        # a late department is criticised in 部门报送情况 already: nothing else is
        problems.append(wording.phrase("nothing_else_flagged" if late_departments else "nothing_flagged"))
    lines.extend(problems)

    lines.append(f"{next(numbers)}、下一步工作要求")
    if requirements:
        lines.extend(line for line in requirements.splitlines() if line.strip())
    else:
        lines.extend(requirements_for(result, laggards, late_units, late_departments, departments, facts, today))
    return "\n".join(lines)


def requirements_for(result: Progress, laggards: list[UnitProgress], late_units: list[UnitProgress],
                     late_departments: list[DepartmentProgress], departments: list[DepartmentProgress],
                     facts: list[supervision.CircularFact], today: dt.date) -> list[str]:
    """工作要求, each because the period shows its cause: 加快滞后进度 naming the laggards, 应保尽保
    when 困难群众 are uncovered, 报送纪律 when someone was late, 各部门 (with the groups they answer
    for) where departments report, and the overdue 督办 items with the day to answer by."""
    rows = result.children
    scope = scope_word(result.region.region)
    who = "各地、各部门" if departments else "各地"
    fields: dict[str, str] = {"who": who}
    keys = ["require_duty"]
    if laggards:
        found = _group(laggards, rows, scope)
        if found.counted:
            keys.append("require_pace_everyone" if found.everyone else "require_pace_counted")
            fields.update(count=str(len(laggards)), noun=_noun(rows), units=found.who, names=_names(found.furthest))
        else:
            keys.append("require_pace")
            fields["names"] = found.who
    if result.hardship_gap:
        keys.append("require_hardship")
    if late_units or late_departments:
        keys.append("require_discipline")
    if departments:
        keys.append("require_departments")
        groups = department_groups(departments)
        fields["groups"] = wording.phrase("require_departments_groups", groups="、".join(groups)) if groups else ""
    overdue = [f for f in facts if f.state == "overdue"]
    if overdue:
        count, named = wording.counted_items(overdue, key=lambda f: f.overdue_order)
        if count:
            keys.append("require_supervision_counted")
            fields.update(count=str(count), subjects="、".join(_item_named(f.item) for f in named))
        else:
            keys.append("require_supervision")
            fields["subjects"] = "、".join(f"{f.item.subject_name}{f.word}事项（{f.item.number}）" for f in named)
        fields["due"] = month_day(answer_by(result.period, today))
    if len(keys) == 1:
        keys.append("require_steady")
    return wording.requirement_lines(keys, **fields)


#: the days an overdue 整改报告 is given when no later report round of the campaign is due
ANSWER_DAYS = 7


def answer_by(period: Period, today: dt.date) -> dt.date:
    """The day an overdue 督办 item is to be answered by: the next report round's due date after
    today, else a week from today."""
    later = [p.due for p in period.campaign.periods if p.due > today]
    return min(later) if later else today + dt.timedelta(days=ANSWER_DAYS)


def _item_named(item) -> str:
    return wording.phrase("supervision_item", subject=item.subject_name, number=item.number)


def supervision_sentences(facts: list[supervision.CircularFact]) -> list[str]:
    """存在问题 of supervision: 上期约谈的A已提交整改报告，完成率由…提高到…; B（督办〔2026〕3号）逾期未报送整改情况.
    More than five overdue items are counted, the three longest overdue named, in one sentence."""
    lines = []
    overdue = [f for f in facts if f.state == "overdue"]
    count, named = wording.counted_items(overdue, key=lambda f: f.overdue_order)
    if count:
        facts = [f for f in facts if f.state != "overdue"]
    for fact in facts:
        item = fact.item
        fields = dict(seq=item.period.seq, word=fact.word, subject=item.subject_name)
        if fact.state == "answered":
            moved = ""
            if fact.then is not None and fact.now is not None:
                then, now = percent(fact.then), percent(fact.now)
                moved = (wording.phrase("supervision_level", now=now) if then == now else
                         wording.phrase("supervision_moved", then=then, now=now,
                                        direction="提高" if fact.now > fact.then else "下降"))
            lines.append(wording.phrase("supervision_answered", moved=moved, **fields))
        else:
            lines.append(wording.phrase("supervision_overdue", number=item.number, **fields))
    if count:
        lines.append(wording.phrase("supervision_overdue_count", count=count,
                                    names="、".join(_item_named(f.item) for f in named)))
    return list(dict.fromkeys(lines))  # two items about one unit answered alike: said once


def basis_sentence(result: Progress) -> str:
    """Which figures the circular counts: 以信息系统数据为准（数据日期12月14日）, naming the units
    the system has no figures for (counted with their typed ones); nothing while there are none."""
    day = result.system_at
    dated = f"（数据日期{month_day(day)}）" if day else ""
    if result.campaign.basis != "system":
        return f"本通报数据以各地填报数据为准，信息系统数据{dated}附后对照。" if result.has_system else ""
    typed = [r for r in result.children if r.source == "reported"]
    if not result.has_system:
        return "本通报数据以信息系统数据为准，本期尚无信息系统数据，按各地填报数据计算。"
    return (f"本通报数据以信息系统数据为准{dated}"
            + (f"，{_names(typed)}信息系统暂无数据，按填报数计算" if typed else "") + "。")



def _laggards_sentence(laggards: list[UnitProgress], rows: list[UnitProgress], scope: str, word: str,
                       time_progress: float) -> str:
    found = _group(laggards, rows, scope)
    worst = _tied_at(laggards, laggards[0].main_measure)
    if found.counted:
        detail = wording.phrase("laggards_furthest", names=_names(found.furthest),
                                values="、".join(percent(r.main_measure) for r in found.furthest))
    elif len(laggards) > len(worst):
        detail = wording.phrase("laggards_worst", names=_names(worst), value=percent(worst[0].main_measure))
    else:
        detail = wording.phrase("laggards_tied", both="均" if len(worst) > 1 and not found.everyone else "",
                                value=percent(worst[0].main_measure))
    return wording.phrase("laggards", subject=found.subject, word=word,
                          time_progress=percent(time_progress), detail=detail)


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
        word = MEASURE_WORDS[head.yoy_measure(result.measure)]
        text += ("，" if people is not None else "") + \
            f"{word}较上年同期{'提高' if change >= 0 else '下降'}{abs(change) * 100:.2f}个百分点"
    return text + "。"


def _filing_sentence(result: Progress, units_word: str, scope: str) -> str:
    """Who reported: 均按时报送; X迟报; Y逾期未报送; and before the due date who is still to report
    and by when."""
    rows, period = result.children, result.period
    if not rows:
        counts = result.region.counts
        return f"本期应报{counts.units}个单位，已报{counts.submitted}个。" if counts.units else ""
    late = [r for r in rows if r.late == "late"]
    missing = [r for r in rows if r.late == "missing"]
    pending = [r for r in rows if r.late == "pending"]
    if not (late or missing or pending):
        return wording.phrase("all_on_time", units=units_word)
    text = ""
    if late or missing:
        parts = [wording.phrase("late_part", subject=_group(late, rows, scope).subject)] if late else []
        if missing:
            parts.append(wording.phrase("missing_part", subject=_group(missing, rows, scope).subject))
        if len(rows) > len(late) + len(missing) + len(pending):
            parts.append(wording.phrase("rest_on_time"))
        text += wording.phrase("late_and_missing", parts="，".join(parts))
    if pending:
        text += wording.phrase("pending", count=len(pending), noun=_noun(rows), who=_pending_note(pending),
                               due=month_day(period.due))
    return text


def department_sentence(departments: list[DepartmentProgress], scope: str, period: Optional[Period] = None) -> str:
    """部门报送情况: who filed on time, and the late departments named for 通报批评."""
    on_time = [d for d in departments if d.late == "on_time"]
    late = [d for d in departments if d.late in ("late", "missing")]
    pending = [d for d in departments if d.late == "pending"]
    sentence = wording.phrase("department_intro", count=len(departments), on_time=len(on_time))
    if late:
        sentence += wording.phrase("department_late_count", count=len(late))
    if pending:
        sentence += wording.phrase("department_pending_count", count=len(pending),
                                   due=month_day(period.due) if period else "")
    sentence += wording.phrase("department_overlap", scope=scope)
    figures = [_department_figure(d) for d in departments if not d.never_filed]
    if figures:
        sentence += "；".join(figures) + "。"
    if late:
        sentence += wording.phrase("department_late", names="、".join(d.department.name for d in late))
    return sentence


def _measure_label(d: DepartmentProgress) -> str:
    """The label of the indicator a department is measured on (重度残疾人已参保人数)."""
    return next(i.label for i in d.department.indicators() if i.key == d.department.measure)


def _department_figure(d: DepartmentProgress) -> str:
    """区残联重度残疾人已参保3,292人，完成任务的83.98%: its people named by the indicator it is measured on."""
    text = wording.department_figure(d.department.name, _measure_label(d), d.measured)
    if d.task:
        text += f"，完成任务的{percent(d.completion)}"
    elif d.rate is not None:
        text += f"，参保率{percent(d.rate)}"
    if d.carried_from is not None:
        text += f"（沿用第{d.carried_from.seq}期数据）"
    return text


def department_groups(departments: list[DepartmentProgress]) -> list[str]:
    """The groups of people the departments answer for, by their indicators' words, each once:
    救助对象、重度残疾人、优抚对象… (a count that names no group, such as 已缴费人数, adds none)."""
    words = []
    for d in departments:
        word = wording.group_word(_measure_label(d))
        if word and word not in words:
            words.append(word)
    return words


def department_table(departments: list[DepartmentProgress]) -> document.Table:
    """The departments in 附件1's column order (任务数 before 已参保); the light only for a
    department that has filed this period (a late one is never green); 参保率 only where it
    says something 完成率 does not."""
    marks = wording.carried_marks([d.carried_from.seq for d in departments if d.carried_from is not None])
    with_rate = any(d.rate is not None and (d.completion is None or abs(d.rate - d.completion) > 1e-9)
                    for d in departments)
    header = ["部门", "任务数", "已参保（缴费）人数", "完成率", *(["参保率"] if with_rate else []), "进度", "报送"]
    rows = [[d.department.name, _count(d.task),
             _count(d.measured) + (marks[d.carried_from.seq] if d.carried_from is not None else ""),
             percent(d.completion), *([percent(d.rate)] if with_rate else []),
             LIGHTS[d.light] if d.late == "on_time" else "—", _state(d.late)] for d in departments]
    return document.Table(header, rows, notes=wording.carried_notes(marks))


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

def _state(late: str) -> str:
    return wording.TABLE_STATES[late]


def _carried_seq(totals: Totals) -> Optional[int]:
    """The period a unit's figures are carried from, when it has no report of this one."""
    return totals.carried_from.seq if totals.carried_from is not None and not totals.reports else None


def ranking_table(result: Progress) -> document.Table:
    """附件1: the units ranked; 报送 one short state, a carried figure marked and explained below. With
    last year's campaign it has a column 同比 (较上年同期) in place of the light (进度), which the body
    states against 序时进度 already: ten columns do not fit the type area at 小四 without breaking
    short words. The changes' unit (百分点) then goes under the table."""
    yoy = result.same_time is not None
    header = ["排名", "单位", "任务数", "已参保人数", "完成率", "参保率"] + (
        ["较上期", "同比", "报送"] if yoy else ["较上期百分点", "进度", "报送"])

    def tail(r: UnitProgress, state: str) -> list[str]:
        if yoy:
            return [points(r.yoy_change(result.measure)), state]
        return [LIGHTS[r.light], state]
    rows = sorted(result.children, key=lambda r: (r.rank, r.region.code))
    marks = wording.carried_marks([seq for r in rows if (seq := _carried_seq(r.totals))])
    # on the basis "system", a unit the system has no figures for counts with its typed ones
    typed = result.campaign.basis == "system" and result.has_system
    table_rows = [[str(r.rank), wording.short_name(r.region.name) + ("（填报数）" if typed and r.source == "reported" else ""),
                   _count(r.task), _count(r.enrolled) + marks.get(_carried_seq(r.totals), ""),
                   percent(r.completion), percent(r.rate), _change(r), *tail(r, _state(r.late))] for r in rows]
    head = result.region
    table_rows.append(["", "合计", _count(head.task), _count(head.enrolled), percent(head.completion),
                       percent(head.rate), "—" if head.increase is None else points(head.increase),
                       *tail(head, "")])
    notes = wording.carried_notes(marks) + (["较上期、同比（较上年同期）单位：百分点"] if yoy else [])
    return document.Table(header, table_rows, notes=notes)


def system_table(result: Progress) -> Optional[document.Table]:
    """信息系统数据对照表: each unit's typed 已参保 beside the system's (a column 信息系统), the gap
    and the flag; None when the period has no system figures under the region."""
    if not result.has_system:
        return None
    header = ["单位", "填报已参保人数", "信息系统", "差额（填报−系统）", "核对"]

    def line(name: str, r: UnitProgress) -> list[str]:
        gap = (r.system_gap or {}).get("enrolled")
        return [name, _count(r.typed.get("enrolled")), _count(r.system_enrolled),
                "—" if gap is None else f"{gap:+,}", "请核实" if r.system_mismatch else ""]
    rows = [line(r.region.name, r) for r in sorted(result.children, key=lambda r: r.region.code)]
    rows.append(line("合计", result.region))
    return document.Table(header, rows)


def grandchildren_table(period: Period, region: Region, result: Optional[Progress] = None) -> Optional[document.Table]:
    """The units two levels down (a city's townships), grouped by their parent, on the one basis."""
    campaign = period.campaign
    child = child_level(region.level)
    grandchild = child_level(child) if child else None
    if grandchild is None or LEVELS.index(grandchild) > LEVELS.index(campaign.report_level):
        return None
    tasks = task_totals(campaign, region, grandchild)
    units = db.session.scalars(select(Region).where(
        getattr(Region, f"{region.level}_id") == region.id, Region.level == grandchild)
        .order_by(Region.code)).all()
    series, _, _ = figures_basis(period, region, grandchild, [u.id for u in units])
    parents = {r.id: wording.short_name(r.name) for r in db.session.scalars(select(Region).where(
        Region.id.in_({u.parent_id for u in units})))}
    progress_at = time_progress(campaign, period.as_of)
    overdue = period.is_overdue(result.today if result else clock.today())
    figures = []
    for unit in units:
        totals = (series.get(unit.id) or [Totals({})])[-1]
        figures.append((unit, totals))
    marks = wording.carried_marks([seq for _, totals in figures if (seq := _carried_seq(totals))])
    rows = []
    for unit, totals in figures:
        enrolled, task = totals.get("enrolled"), tasks.get(unit.id)
        completion = ratio(enrolled or 0, task)
        measure = main_measure(task, completion, totals.rate)
        counts = FilingCounts(unit.units(campaign.report_level), totals.reports, totals.late, overdue)
        rows.append([parents.get(unit.parent_id, ""), wording.short_name(unit.name), _count(task),
                     _count(enrolled) + marks.get(_carried_seq(totals), ""), percent(completion),
                     percent(totals.rate), LIGHTS[light(measure, progress_at)], _state(counts.status)])
    header = [{"county": "县（市、区）", "city": "市", "township": "镇（街）"}.get(child, "上级"),
              {"township": "镇（街）", "village": "村（社区）", "county": "县（市、区）"}.get(grandchild, "单位"),
              "任务数", "已参保人数", "完成率", "参保率", "进度", "报送"]
    return document.Table(header, rows, notes=wording.carried_notes(marks))


def _change(row: UnitProgress) -> str:
    """较上期 in points; — for a unit with no report of the period yet (its figures are carried)."""
    return "—" if not row.totals.reports else points(row.increase)


def _count(value) -> str:
    return "—" if value is None else f"{value:,}"


def chart_attachments(period: Period, region: Region, result: Progress) -> list[document.Attachment]:
    """The charts on one page: the cumulative progress, and the units' bars beneath it (where 40 or
    fewer units keep it legible), rather than two mostly blank pages."""
    word = charts.measure_word(result)
    dots = [replace(p, label=month_day(day.as_of)) for p, day in zip(charts.progress_points(result), result.periods)]
    svg = Markup(charts.progress_chart(dots, title=f"{region.name}累计参保人数与{word}", measure=word,
                                       last_year=charts.last_year_points(result)))
    title = f"{region.name}累计参保进度图"
    if 0 < len(result.children) <= 40:  # a taller chart would not fit
        units_word = UNIT_WORDS.get(result.children[0].region.level, '各地')
        svg += Markup(charts.unit_bars(result, f"{units_word}{word}"))
        title = f"{region.name}累计参保进度及{units_word}{word}"
    return [document.Attachment(title, svg=svg)]


# --- the document --------------------------------------------------------------------------

def next_numbers(campaign: Campaign, region: Region, year: int, prefix: Optional[str] = None) -> tuple[int, int]:
    """(第N期 of this campaign for this region, the next 发文字号 serial of the 机关代字's year)."""
    prefix = prefix or issuing_body(region).prefix
    issue = db.session.scalar(select(func.max(Circular.issue_no)).where(
        Circular.campaign_id == campaign.id, Circular.region_id == region.id)) or 0
    seq = db.session.scalar(select(func.max(Circular.doc_seq)).where(
        Circular.doc_prefix == prefix, Circular.doc_year == year)) or 0
    return issue + 1, seq + 1


def annexes(period: Period, region: Region, result: Progress) -> list[document.Attachment]:
    """附件: the ranking of the units, the units two levels down, the 信息系统 comparison, the
    departments and the charts (which a circular past MAX_PAGES prints without: see `fitted`)."""
    attachments = []
    if result.children:
        units_word = UNIT_WORDS.get(result.children[0].region.level, "各地")
        attachments.append(document.Attachment(
            f"{annual_name(period.campaign)}{units_word}参保进度排名表", table=ranking_table(result)))
        deeper = grandchildren_table(period, region, result)
        if deeper is not None and deeper.rows:
            attachments.append(document.Attachment(
                f"{annual_name(period.campaign)}{UNIT_WORDS.get(child_level(child_level(region.level)), '')}"
                "参保进度表", table=deeper))
    system = system_table(result)
    if system is not None:
        day = result.system_at
        attachments.append(document.Attachment(
            f"{annual_name(period.campaign)}信息系统数据对照表（数据日期{month_day(day) if day else '未注明'}）",
            table=system))
    departments = department_progress(period, region, clock.now())
    if departments:
        attachments.append(document.Attachment(
            f"{annual_name(period.campaign)}部门报送情况表",
            table=department_table(departments)))
    attachments.extend(chart_attachments(period, region, result))
    return attachments


def annex_json(attachment: document.Attachment) -> dict:
    if attachment.table is not None:
        table = attachment.table
        return {"title": attachment.title, "header": table.header, "rows": table.rows,
                "aligns": list(table.aligns) if table.aligns else None, "notes": table.notes}
    return {"title": attachment.title, "svg": str(attachment.svg)}


def annex_from_json(data: dict) -> document.Attachment:
    if "svg" in data:
        # our own chart module's markup, stored when the draft was written
        return document.Attachment(data["title"], svg=Markup(data["svg"]))
    return document.Attachment(data["title"], table=document.Table(data["header"], data["rows"], data["aligns"],
                                                                   data.get("notes", [])))


def build_document(period: Period, region: Region, *, title: str, body: str, issue_no: int,
                   doc_prefix: str, doc_year: int, doc_seq: int, date: dt.date,
                   result: Optional[Progress] = None,
                   attachments: Optional[list[document.Attachment]] = None) -> document.Circular:
    bureau = issuing_body(region)
    if attachments is None:
        attachments = annexes(period, region, result or progress(period, region))
    return document.Circular(
        issuer_mark=bureau.name, number=document.DocumentNumber(doc_prefix, doc_year, doc_seq),
        title=title, addressee=bureau.addressee, sections=parse_body(body),
        signature=document.Signature(bureau.name, date),
        imprint=document.Imprint(bureau.printed_by, date, bureau.copy_to), issue=issue_no,
        attachments=attachments, as_of=period.as_of, show_issue=period.campaign.circular_issue_line)


# --- one moment for the body and the annexes ------------------------------------------------

class StaleDraft(ValueError):
    """The figures under the region moved after the draft was written."""

    def __init__(self, changes: list[str]):
        self.changes = changes
        super().__init__("起草后数据已变化：" + "；".join(changes) + "。请按最新数据重新生成，或按起草时的数据印发")


def take_snapshot(period: Period, region: Region, result: Optional[Progress] = None) -> tuple[Progress, dict]:
    """The live figures of a region, as a circular freezes them (the progress API's answer and
    the departments')."""
    result = result or progress(period, region)
    return result, {**progress_json(result), "departments": [
        d.as_json() for d in department_progress(period, region, clock.now())]}


def _figures(snapshot: dict) -> dict:
    """What a circular's text depends on: the totals and the filing state of the region, of each
    unit and of each department."""
    return {"region": [snapshot["region"]["totals"], snapshot["region"]["late"]],
            "children": {c["code"]: [c["totals"], c["late"]] for c in snapshot["children"]},
            "departments": {str(d["id"]): [d["totals"], d["late"]] for d in snapshot.get("departments", [])}}


def data_version(snapshot: dict) -> str:
    """A digest of the figures: two snapshots with the same version print the same numbers."""
    text = json.dumps(_figures(snapshot), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def figure_changes(before: dict, after: dict, scope: str) -> list[str]:
    """What moved between two snapshots, in words: who filed or corrected, and the totals then and now."""
    changes = []
    for kind, key in (("children", "code"), ("departments", "id")):
        old = {row[key]: row for row in before.get(kind, [])}
        for row in after.get(kind, []):
            was = old.get(row[key])
            if was is None or (was["totals"], was["late"]) == (row["totals"], row["late"]):
                continue
            if was["late"] != row["late"]:
                text = f"{row['name']}{LATE_NAMES[was['late']]}→{LATE_NAMES[row['late']]}"
                if row["late"] in ("on_time", "late") and was["late"] in ("pending", "missing"):
                    text = f"{row['name']}已报送（{LATE_NAMES[was['late']]}→{LATE_NAMES[row['late']]}）"
            else:
                text = f"{row['name']}数据有更正"
            enrolled = (was["totals"].get("enrolled"), row["totals"].get("enrolled"))
            if enrolled[0] != enrolled[1] and None not in enrolled:
                text += f"，已参保{enrolled[0]:,}人→{enrolled[1]:,}人"
            changes.append(text)
    head_before, head_after = before["region"], after["region"]
    enrolled = (head_before["totals"].get("enrolled") or 0, head_after["totals"].get("enrolled") or 0)
    total = f"{scope}已参保缴费{enrolled[0]:,}人→{enrolled[1]:,}人"
    for word, key in (("完成率", "completion"), ("参保率", "rate")):
        if head_before.get(key) is not None and head_after.get(key) is not None:
            total += f"，{word}{percent(head_before[key])}→{percent(head_after[key])}"
            break
    return changes + [total]


def stale_changes(circular: Circular, snapshot: Optional[dict] = None) -> list[str]:
    """What changed under the region since the draft was written; empty when nothing did (or
    for a draft written before drafts kept their figures)."""
    if circular.status == "issued" or not circular.data_version or not circular.snapshot:
        return []
    snapshot = snapshot or take_snapshot(circular.period, circular.region)[1]
    if data_version(snapshot) == circular.data_version:
        return []
    return figure_changes(circular.snapshot, snapshot, scope_word(circular.region))


def write_from_figures(circular: Circular, result: Optional[Progress] = None,
                       snapshot: Optional[dict] = None) -> Circular:
    """Write (or write again) the body from the live figures, and keep those figures, their
    version and the annexes they give, so that an issue can use this one moment."""
    if snapshot is None:
        result, snapshot = take_snapshot(circular.period, circular.region, result)
    circular.body = draft_body(result, circular.campaign.requirements)
    circular.snapshot, circular.data_version = snapshot, data_version(snapshot)
    circular.annexes = [annex_json(a) for a in annexes(circular.period, circular.region, result)]
    circular.written_at = clock.now()
    return circular


def new_draft(period: Period, region: Region, user: Optional[User] = None) -> Circular:
    """A draft circular with its body written from the numbers (added to the session)."""
    campaign = period.campaign
    draft = Circular(campaign=campaign, period=period, region=region, status="draft",
                     title=default_title(campaign), created_at=clock.now(),
                     created_by_id=user.id if user else None)
    write_from_figures(draft)
    db.session.add(draft)
    db.session.flush()
    return draft


def regenerate(circular: Circular, user: Optional[User] = None) -> Circular:
    """按最新数据重新生成: the body is written again from the latest figures (hand edits are redone)."""
    if circular.status == "issued":
        raise ValueError("该通报已印发，不能重新生成")
    write_from_figures(circular)
    audit.record("circular.regenerate", user, region=circular.region, target=f"通报草稿{circular.id}",
                 after={"period": circular.period.label, "data_version": circular.data_version})
    return circular


def drafted_annexes(circular: Circular) -> Optional[list[document.Attachment]]:
    """The annexes as of the draft's moment (None for a draft written before drafts kept them)."""
    return None if circular.annexes is None else [annex_from_json(a) for a in circular.annexes]


def draft_document(circular: Circular) -> document.Circular:
    """A draft as it would print if issued now, with the figures its text was written from."""
    today = clock.today()
    bureau = issuing_body(circular.region)
    issue_no, seq = next_numbers(circular.campaign, circular.region, today.year, bureau.prefix)
    return build_document(circular.period, circular.region, title=circular.title, body=circular.body,
                          issue_no=issue_no, doc_prefix=bureau.prefix, doc_year=today.year, doc_seq=seq,
                          date=today, attachments=drafted_annexes(circular))


#: the pages a 通报 keeps to, its 版记 included
MAX_PAGES = 10


@dataclass
class Fitted:
    """A circular as it prints: the document (its charts annex dropped when that was needed to keep
    to MAX_PAGES), its print HTML, and that HTML laid out."""

    doc: document.Circular
    html: str
    layout: weasyprint.Document
    pages: int

    def pdf(self) -> bytes:
        from reporting.pdf import create_pdf
        return create_pdf(self.layout, closing=document.closing_html(self.html))


def _laid_out(doc: document.Circular, html: Optional[str] = None) -> Fitted:
    from reporting.pdf import closed_page_count, layout
    html = html or document.render_circular_html(doc)
    laid_out = layout(html)
    return Fitted(doc, html, laid_out, closed_page_count(laid_out))


def without_charts(doc: document.Circular) -> Optional[document.Circular]:
    """The circular without its charts annex, None when it has none. The charts are the annex a
    通报 can do without: the tables are the record, and the dashboard shows the same charts. The
    附件说明 and the annexes' labels follow the annexes that remain."""
    tables = [a for a in doc.attachments if a.svg is None]
    if len(tables) == len(doc.attachments):
        return None
    enclosures = doc.enclosure_titles
    if enclosures is not None:  # titles given by hand: those of the charts go with them
        charts_titles = {a.title for a in doc.attachments if a.svg is not None}
        enclosures = [t for t in enclosures if t not in charts_titles]
    return replace(doc, attachments=tables, enclosure_titles=enclosures)


def fitted(doc: document.Circular, html: Optional[str] = None) -> Fitted:
    """The circular laid out to keep to MAX_PAGES: as it is when it does (one layout), else laid
    out again without its charts annex, which is used when it is shorter. Every way a circular is
    printed goes through here: the draft's PDF and print view, the issue, `circulars render`.
    `html` is the document's print HTML when the caller has it already."""
    result = _laid_out(doc, html)
    if result.pages > MAX_PAGES and (shorter := without_charts(doc)) is not None:
        second = _laid_out(shorter)
        if second.pages < result.pages:
            return second
    return result


#: a worker's memory of print views: the digest of MAX_PAGES and a circular's print HTML with every annex -> the
#: HTML `fitted` chose for it (a layout takes seconds; the draft's preview reloads after each edit)
_PRINTED: dict[bytes, str] = {}
_PRINTED_MOST = 64


def print_html(doc: document.Circular) -> str:
    """The print HTML of `fitted`, remembered by content: the same document lays out the same."""
    html = document.render_circular_html(doc)
    if without_charts(doc) is None:  # nothing to leave out: no layout needed
        return html
    key = hashlib.blake2b(f"{MAX_PAGES}:{html}".encode(), digest_size=16).digest()
    if key not in _PRINTED:
        if len(_PRINTED) >= _PRINTED_MOST:
            _PRINTED.pop(next(iter(_PRINTED)))
        _PRINTED[key] = fitted(doc, html).html
    return _PRINTED[key]


def render_pdf(doc: document.Circular) -> bytes:
    """The circular's PDF, fitted to MAX_PAGES."""
    return fitted(doc).pdf()


def render_pdf_html(html: str) -> bytes:
    """The PDF of print HTML as it stands (no fitting: the HTML says which annexes it holds)."""
    from reporting.pdf import create_pdf
    return create_pdf(html, closing=document.closing_html(html))


ISSUE_MODES = ("regenerate", "as_drafted")


def issue(circular: Circular, user: Optional[User],
          step: Callable[[str], None] = lambda name: None, mode: Optional[str] = None) -> Circular:
    """Freeze the numbers and the text, render and keep the PDF, take the next numbers.

    The body and the annexes come from one moment. When the figures moved after the draft was
    written, `mode` says which: "regenerate" writes the text again from the latest figures,
    "as_drafted" issues the draft's figures (its annexes and snapshot); without either the draft
    is refused (StaleDraft, naming the change). `step` hears each stage (rollup, render), so that
    a background job can show its progress.
    """
    if circular.status == "issued":
        raise ValueError("该通报已印发，不能再次印发")
    if mode is not None and mode not in ISSUE_MODES:
        raise ValueError(f"印发方式应为 regenerate 或 as_drafted，而不是 {mode}")
    now = clock.now()
    step("rollup")
    result, snapshot = take_snapshot(circular.period, circular.region)
    attachments = None
    changes = stale_changes(circular, snapshot)
    if changes and mode == "regenerate":
        write_from_figures(circular, result, snapshot)
    elif changes and mode == "as_drafted":
        snapshot, attachments = circular.snapshot, drafted_annexes(circular)
    elif changes:
        raise StaleDraft(changes)
    else:
        attachments = drafted_annexes(circular)  # the same figures: the annexes need no second reckoning
    bureau = issuing_body(circular.region)
    issue_no, seq = next_numbers(circular.campaign, circular.region, now.year, bureau.prefix)
    doc = build_document(circular.period, circular.region, title=circular.title, body=circular.body,
                         issue_no=issue_no, doc_prefix=bureau.prefix, doc_year=now.year, doc_seq=seq,
                         date=now.date(), result=result, attachments=attachments)
    step("render")
    printed = fitted(doc)
    circular.html, circular.pdf = printed.html, printed.pdf()
    circular.snapshot = snapshot
    circular.issue_no, circular.doc_prefix, circular.doc_year, circular.doc_seq = issue_no, bureau.prefix, now.year, seq
    circular.status, circular.issued_at, circular.issued_by_id = "issued", now, user.id if user else None
    db.session.flush()  # the unique numbers reject a concurrent issue of the same sequence
    publish(circular, user)
    audit.record("circular.issue", user, region=circular.region, target=circular.doc_number,
                 after={"issue_no": issue_no, "title": doc.full_title, "period": circular.period.label,
                        **({"mode": mode} if changes else {})})
    return circular


# --- issuing in the background --------------------------------------------------------------

def enqueue_issue(circular_id: int, user_id: Optional[int], mode: Optional[str] = None) -> Optional[str]:
    """Queue the issue of a circular; the job id, or None when there is no queue (no REDIS_URL, or
    Redis unreachable): the caller then issues it inside the request."""
    from redis.exceptions import RedisError
    queued = jobs.queue()
    if queued is None:
        return None
    try:
        job = queued.enqueue(run_issue, circular_id, user_id,
                             {"SQLALCHEMY_DATABASE_URI": current_app.config["SQLALCHEMY_DATABASE_URI"]}, mode,
                             meta={"step": "queued"}, result_ttl=3600, failure_ttl=86400,
                             job_timeout=jobs.ISSUE_TIMEOUT)
    except RedisError as error:
        outages.report("Redis（任务队列）", error)
        return None
    return job.id


def run_issue(circular_id: int, user_id: Optional[int], config: dict, mode: Optional[str] = None) -> str:
    """The job: issue the circular in an app of its own, reporting each step in the job's meta."""
    from rq import get_current_job
    job = get_current_job()

    def step(name: str) -> None:
        if job is not None:
            job.meta["step"] = name
            job.save_meta()
    with jobs.job_app(config):
        circular = db.session.get(Circular, circular_id)
        user = db.session.get(User, user_id) if user_id else None
        if circular.status != "issued":
            issue(circular, user, step, mode)
            db.session.commit()
        step("done")
        return circular.doc_number
