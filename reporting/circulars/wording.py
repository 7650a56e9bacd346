"""The phrases of a drafted 通报, in one table, and how a sentence names the units it concerns."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

#: every phrase the drafted body uses, in the tone of the seed notices; {fields} are filled in
WORDING = {
    "opening": "现将截至{as_of}{scope}城乡居民基本医疗保险参保缴费工作进展情况通报如下：",
    "headline": "截至{as_of}，{scope}已参保缴费{enrolled}人",
    "headline_completion": "，完成目标任务的{completion}",
    "headline_level": "，与上期持平",
    "headline_change": "，较上期{direction}{points}个百分点",
    "headline_time_progress": "，{direction}序时进度{points}个百分点",
    "headline_rate": "居民医保参保率为{rate}",
    "headline_rate_unfiled": "（不含{count}个尚未报送过数据的单位）",
    "all_on_time": "本期{units}均按时报送。",
    "late_and_missing": "本期{parts}。",
    "late_part": "{subject}迟报",
    "missing_part": "{subject}逾期未报送",
    "rest_on_time": "其余均按时报送",
    "pending": "尚有{count}个{noun}待报{who}，报送截止{due}，请按时报送。",
    "leaders": "{names}{word}达到{value}以上，进度较快。",
    "laggards": "{subject}{word}低于序时进度（{time_progress}），{detail}进度滞后。",
    "laggards_worst": "其中{names}仅为{value}，",
    "laggards_tied": "{both}仅为{value}，",
    "laggards_furthest": "其中{names}差距最大，分别为{values}，",
    "no_figures": "本期{units}尚无已提交的数据。",
    "awaiting": "本期{units}均待报，各地进展待{due}报送截止后通报；附件所列为各地最近一期已报数据。",
    "carried": "{who}本期数据{both}沿用第{seq}期",
    # {detail}: empty, or (more than five units counted) the three furthest behind, ending in ，
    "late": "{subject}未按时报送进度表，{detail}予以通报批评。",
    "interview": "{subject}连续{streak}期{bottom}，{detail}将按规定约谈其主要负责人。",
    "interview_below": "{subject}连续{streak}期{bottom}且低于序时进度，{detail}将按规定约谈其主要负责人。",
    "interview_warning": "{subject}已连续{streak}期{bottom}，{detail}予以预警，{due}报送截止后仍居末位的将按规定约谈。",
    "forecast": "按近两期进度测算，{subject}预计无法在{end}前完成目标任务，{detail}请加快进度。",
    # the units counted or named furthest behind, by what the statement measures
    "furthest": "其中{names}差距最大，",
    "furthest_marked": "其中{names}问题尤为突出，",
    "hardship": "困难群众参保尚有{count}人未覆盖（涉及{subject}{detail}），请相关单位逐一核实，确保应保尽保。",
    "hardship_furthest": "，其中{names}未覆盖人数最多",
    "hardship_alone": "困难群众参保尚有{count}人未覆盖，请逐一核实，确保应保尽保。",
    "anomalies": "{subject}报送数据存在异常（如参保人数较上期减少），{detail}请核实后更正。",
    "lagging_problem": "{who}进度{both}低于序时进度，{detail}需加快推进。",
    "nothing_flagged": "本期未发现突出问题。",
    "nothing_else_flagged": "除上述部门报送问题外，本期未发现其他突出问题。",
    "department_intro": "本期应报送进度的{count}个部门中，{on_time}个按时报送",
    "department_late_count": "，{count}个未按时报送",
    "department_pending_count": "，{count}个待报（报送截止{due}）",
    "department_overlap": "（部门报送的人员已含在各地数据中，不重复计入{scope}合计，详见附件）。",
    # a department's figure names its people by its indicator: 区残联重度残疾人已参保3,292人
    "department_group": "{department}{group}已参保{count}人",
    "department_count": "{department}{label}{count}人",
    "department_late": "{names}未按时报送参保缴费进度，予以通报批评。",
    "department_anomalies": "{names}报送数据超过100%，请核实后更正。",
    "supervision_answered": "第{seq}期{word}的{subject}已提交整改报告{moved}。",
    "supervision_moved": "，完成率由{then}{direction}到{now}",
    "supervision_level": "，完成率仍为{now}",
    "supervision_overdue": "第{seq}期{word}的{subject}（{number}）逾期未报送整改情况。",
    "supervision_overdue_count": "共有{count}个督办事项逾期未报送整改情况，其中{names}逾期最久。",
    # one overdue item as a list names it: 鹤山市（督办〔2026〕2号）
    "supervision_item": "{subject}（{number}）",
    # 工作要求: each follows what the period shows; the first always stands
    "require_duty": "压实工作责任。各地要对照目标任务，坚持“一把手”亲自抓，逐级分解任务，确保按期完成参保缴费工作。",
    "require_pace": "加快滞后进度。{names}要认真分析原因，制定针对性措施，确保按期完成目标任务。",
    "require_pace_counted": "加快滞后进度。进度滞后的{count}个{noun}特别是{names}要认真分析原因，制定针对性措施，"
                            "确保按期完成目标任务。",
    "require_pace_everyone": "加快滞后进度。{units}特别是{names}要认真分析原因，制定针对性措施，确保按期完成目标任务。",
    "require_hardship": "确保应保尽保。{who}要对尚未参保的困难群众逐一核实身份和参保状态，做好动员和资助参保工作，"
                        "确保人费对应、及时参保。",
    "require_discipline": "严肃报送纪律。{who}要严格按照时间节点报送参保进度表，确保数据真实准确；"
                          "对逾期不报、数据不实的，将予以通报批评。",
    "require_departments": "强化部门联动。各部门要按照职责分工，{groups}每期按时报送本系统参保缴费进度。",
    "require_departments_groups": "做好{groups}等重点人群参保工作，",
    "require_supervision": "抓好督办整改。{subjects}逾期未报送整改情况，请于{due}前报送整改报告；"
                           "逾期仍未报送的，将予以通报批评。",
    "require_supervision_counted": "抓好督办整改。逾期未报送整改情况的{count}个督办事项特别是{subjects}，"
                                   "请于{due}前报送整改报告；逾期仍未报送的，将予以通报批评。",
    "require_steady": "保持工作力度。各地要巩固已有成果，持续做好参保缴费服务，按时报送进度数据。",
}

#: the one short state a table's 报送 column holds
TABLE_STATES = {"on_time": "按时", "late": "逾期", "missing": "未报", "pending": "待报"}
#: the endings official names carry that tables leave out (南联村民委员会 → 南联村)
SHORT_ENDINGS = (("社区居民委员会", "社区"), ("居民委员会", "居委会"), ("村民委员会", "村"), ("村委会", "村"),
                 ("街道办事处", "街道"), ("社区居委会", "社区"))

#: the endings of an indicator's label that follow the people it counts (重度残疾人已参保人数 → 重度残疾人)
GROUP_ENDINGS = ("已参保人数", "应参保人数", "参保人数")
#: the words before those endings that name the whole population rather than a group of it
WHOLE_POPULATION = ("居民医保", "城乡居民医保", "")

#: up to this many units a sentence names; beyond, it counts them and names the furthest behind
MAX_NAMED = 5
#: how many of a counted group are named (差距最大)
FURTHEST = 3
CN_ORDINALS = "一二三四五六七八九十"


def phrase(key: str, **fields) -> str:
    return WORDING[key].format(**fields)


def group_word(label: str) -> str:
    """The people an indicator counts, by its label: 重度残疾人 for 重度残疾人已参保人数, 困难群众 for
    其中：困难群众应参保人数; empty for a count that names no group (已缴费人数, 居民医保已参保人数)."""
    label = label.removeprefix("其中：").removeprefix("其中:").strip()
    for ending in GROUP_ENDINGS:
        if label.endswith(ending):
            word = label[: -len(ending)]
            return "" if word in WHOLE_POPULATION else word
    return ""


def department_figure(department: str, label: str, count: int) -> str:
    """区残联重度残疾人已参保3,292人; a count that names no group keeps its label (区税务局已缴费人数…)."""
    group = group_word(label)
    if group:
        return phrase("department_group", department=department, group=group, count=f"{count:,}")
    return phrase("department_count", department=department, label=label, count=f"{count:,}")


def requirement_lines(keys: Sequence[str], **fields) -> list[str]:
    """（一）… lines of 工作要求, numbered in order."""
    return [f"（{CN_ORDINALS[n]}）{phrase(key, **fields)}" for n, key in enumerate(keys)]


@dataclass
class Group:
    """How one sentence names the units that share its statement."""
    #: the sentence's subject: names (A、B), 各县（市、区）均, or 全区有8个镇（街）
    subject: str
    #: the units named as furthest behind when the group is counted (else empty)
    furthest: list
    #: more than five: counted rather than named one by one
    counted: bool
    #: every unit of the level shares the statement
    everyone: bool
    #: the subject without its 均 (for a sentence that places 均 later: 各县（市、区）本期数据均…)
    who: str = ""
    #: 均 when every unit shares the statement
    both: str = ""
    #: the units as a number, where a sentence counts them inside another (涉及6个县（市、区）); else `who`
    number: str = ""


def group(units: Sequence, siblings: Sequence, *, scope: str, noun: str, name: Callable,
          behind: Callable) -> Group:
    """Up to five units are named; more than five are counted, with the three furthest behind
    (lowest `behind`) named beside; all of the siblings are 各县（市、区）均, whatever their number."""
    everyone = len(units) == len(siblings) and len(siblings) > 1
    counted = len(units) > MAX_NAMED
    furthest = sorted(units, key=behind)[:FURTHEST] if counted else []
    if everyone:
        who = f"各{noun}"
    elif counted:
        who = f"{scope}有{len(units)}个{noun}"
    else:
        who = "、".join(name(u) for u in units)
    both = "均" if everyone else ""
    number = f"{len(units)}个{noun}" if counted and not everyone else who
    return Group(who + both, furthest, counted, everyone, who, both, number)


def furthest(found: Group, key: str, name: Callable) -> str:
    """其中A、B、C差距最大， after a counted group (by the phrase `key`); nothing after named units."""
    return phrase(key, names="、".join(name(u) for u in found.furthest)) if found.furthest else ""


def counted_items(items: Sequence, *, key: Callable) -> tuple[int, list]:
    """More than five items: their number and the three first by `key` (the oldest, the furthest
    past their time limit); up to five: (0, all of them)."""
    if len(items) > MAX_NAMED:
        return len(items), sorted(items, key=key)[:FURTHEST]
    return 0, list(items)


def short_name(name: str) -> str:
    """The name a table prints, as real 通报 do: 南联村 for 南联村民委员会, 东门社区 for
    东门社区居民委员会 (the API keeps the official name)."""
    for ending, short in SHORT_ENDINGS:
        if name.endswith(ending) and len(name) > len(ending):
            return name[: -len(ending)] + short
    return name


def carried_marks(seqs: Sequence[int]) -> dict[int, str]:
    """The mark of each carried period, the latest first: * for 第5期, ** for 第4期…"""
    return {seq: "*" * n for n, seq in enumerate(sorted(set(seqs), reverse=True), 1)}


def carried_notes(marks: dict[int, str]) -> list[str]:
    """The lines under a table that explain its marks: *沿用第5期数据."""
    return [f"{mark}沿用第{seq}期数据" for seq, mark in sorted(marks.items(), key=lambda item: len(item[1]))]
