"""The draft 通报's sentences, as real circulars write them: 均按时报送, ties named together, no 其中
before a single unit, 连续两期, and the units that have not reported named."""
import datetime as dt

from reporting.circulars.circulars import draft_body
from reporting.progress.ranking import progress

from .fixtures.basis import file


def test_wording_of_ties_single_units_and_punctual_reporting(shuanghe, frozen_now):
    campaign, township, (a, b, c, d, e) = shuanghe
    first, second = campaign.periods[:2]
    file(first, [(a, 300), (b, 300), (c, 300), (d, 100), (e, 100)], frozen_now, dt.datetime(2022, 10, 7, 9))
    file(second, [(a, 500), (b, 500), (c, 400), (d, 200), (e, 200)], frozen_now, dt.datetime(2022, 10, 16, 9))
    text = draft_body(progress(second, township, today=dt.date(2022, 10, 18)))
    # all filed on time: said once, not "5个中，5个按时报送"
    assert "本期各村（社区）均按时报送。" in text and "个中" not in text
    # the two lowest tie: named together, with 均 and without 其中
    assert f"{d.name}、{e.name}完成率低于序时进度（36.07%），均仅为20.00%，进度滞后。" in text
    assert "其中" not in text
    # leaders tied at the top are named together
    assert f"{a.name}、{b.name}、{c.name}完成率达到40.00%以上" in text
    # 约谈 for both, in words: 连续两期
    assert f"{d.name}、{e.name}连续两期排名末位，将按规定约谈其主要负责人。" in text


def test_a_single_laggard_has_no_qizhong_and_the_unfiled_are_named(shuanghe, frozen_now):
    campaign, township, (a, b, c, d, e) = shuanghe
    first, second = campaign.periods[:2]
    file(first, [(a, 300), (b, 300), (c, 300), (d, 300), (e, 100)], frozen_now, dt.datetime(2022, 10, 7, 9))
    file(second, [(a, 500), (b, 450), (c, 400), (d, 380)], frozen_now, dt.datetime(2022, 10, 16, 9))
    frozen_now(dt.datetime(2022, 10, 18, 9))
    text = draft_body(progress(second, township, today=dt.date(2022, 10, 18)))
    assert f"{e.name}完成率低于序时进度（36.07%），仅为10.00%，进度滞后。" in text and "其中" not in text
    assert f"本期{e.name}逾期未报送，其余均按时报送。" in text
    assert f"{e.name}本期数据沿用第1期。" in text
    # filed after the due date: 迟报, no longer 逾期未报送
    file(second, [(e, 100)], frozen_now, dt.datetime(2022, 10, 18, 10))
    text = draft_body(progress(second, township, today=dt.date(2022, 10, 18)))
    assert f"本期{e.name}迟报，其余均按时报送。" in text and "逾期" not in text.split("四、")[0]


def test_all_units_sharing_a_statement_are_written_ge_jun(shuanghe, frozen_now):
    campaign, township, (a, b, c, d, e) = shuanghe
    first, second = campaign.periods[:2]
    file(first, [(a, 100), (b, 110), (c, 120), (d, 130), (e, 140)], frozen_now, dt.datetime(2022, 10, 7, 9))
    file(second, [(a, 200), (b, 210), (c, 220), (d, 230), (e, 240)], frozen_now, dt.datetime(2022, 10, 16, 9))
    text = draft_body(progress(second, township, today=dt.date(2022, 10, 18)))
    assert "各村（社区）均完成率低于序时进度（36.07%），其中" in text
    assert f"{a.name}、{b.name}、{c.name}、{d.name}、{e.name}" not in text
    # every unit filed on time: no 报送纪律 requirement, but the pace is required and named
    assert "严肃报送纪律" not in text and "（二）加快滞后进度。各村（社区）要认真分析原因" in text
    assert "本期未发现突出问题" not in text


def test_more_than_five_units_are_counted_with_the_three_furthest_behind_named(jiangmen, frozen_now):
    from reporting.campaigns.campaigns import create_campaign
    from reporting.extensions import db
    from reporting.filing.filing import import_reports

    from .fixtures.circulars import figures
    frozen_now(dt.datetime(2022, 10, 14, 9, 0))
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1), report_level="county")
    # 参保率 of 900,000 each: six counties below the 36.07% 序时进度, 江海区 above it
    enrolled = {"440703": 300_000, "440704": 400_000, "440705": 200_000, "440781": 100_000,
                "440783": 250_000, "440784": 150_000, "440785": 320_000}
    import_reports(campaign.periods[1], [(n, code, figures(v), {}) for n, (code, v) in enumerate(enrolled.items())],
                   submit=True, default_filer={"name": "黄丽华", "phone": "13802216103", "head": "张局长"})
    db.session.commit()
    text = draft_body(progress(campaign.periods[1], jiangmen))
    assert ("全市有6个县（市、区）参保率低于序时进度（36.07%），其中台山市、鹤山市、新会区差距最大，"
            "分别为11.11%、16.67%、22.22%，进度滞后。") in text
    assert "蓬江区、新会区" not in text  # the six are not listed one by one
    # the 工作要求 counts them too, and names the three furthest behind
    assert "（二）加快滞后进度。进度滞后的6个县（市、区）特别是台山市、鹤山市、新会区要认真分析原因" in text
    assert "全市有6个县（市、区）要" not in text


def test_all_seven_counties_sharing_a_statement_are_ge_jun_with_the_furthest_named(jiangmen, frozen_now):
    """All 7 counties of 江门市 below 序时进度 and off the pace of the window: 各县（市、区）均, never
    全市7个县（市、区）, and the three furthest behind still named."""
    from reporting.campaigns.campaigns import create_campaign
    from reporting.extensions import db
    from reporting.filing.filing import import_reports
    from tests.fixtures.circulars import figures
    frozen_now(dt.datetime(2022, 10, 14, 9, 0))
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1), report_level="county")
    # 参保率 of 900,000 each, every county below the 36.07% 序时进度 and rising too slowly to finish
    first = {"440703": 250_000, "440704": 280_000, "440705": 180_000, "440781": 80_000,
             "440783": 220_000, "440784": 120_000, "440785": 260_000}
    second = {code: v + 20_000 for code, v in first.items()}
    filer = {"name": "黄丽华", "phone": "13802216103", "head": "张局长"}
    for period, enrolled in zip(campaign.periods[:2], (first, second)):
        import_reports(period, [(n, code, figures(v), {}) for n, (code, v) in enumerate(enrolled.items())],
                       submit=True, default_filer=filer)
    db.session.commit()
    text = draft_body(progress(campaign.periods[1], jiangmen))
    assert "全市7个县（市、区）" not in text and "全市有7个" not in text
    assert ("各县（市、区）均参保率低于序时进度（36.07%），其中台山市、鹤山市、新会区差距最大，"
            "分别为11.11%、15.56%、22.22%，进度滞后。") in text
    assert "按近两期进度测算，各县（市、区）均预计无法在12月31日前完成目标任务，其中台山市、鹤山市、新会区差距最大" in text
    assert "（二）加快滞后进度。各县（市、区）特别是台山市、鹤山市、新会区要认真分析原因" in text


def test_a_group_is_named_counted_or_everyone():
    from reporting.circulars.wording import group
    units = [("A", 5), ("B", 1), ("C", 3), ("D", 2), ("E", 4), ("F", 6), ("G", 7)]

    def of(members, everyone=units):
        return group(members, everyone, scope="全市", noun="县（市、区）", name=lambda u: u[0], behind=lambda u: u[1])
    every = of(units)
    assert every.subject == "各县（市、区）均" and every.who == "各县（市、区）" and every.both == "均"
    assert [u[0] for u in every.furthest] == ["B", "D", "C"]
    six = of(units[:6])
    assert six.subject == "全市有6个县（市、区）" and six.number == "6个县（市、区）" and six.both == ""
    assert [u[0] for u in six.furthest] == ["B", "D", "C"]
    few = of(units[:3], units[:3])
    assert few.subject == "各县（市、区）均" and few.furthest == []
    two = of(units[:2])
    assert two.subject == "A、B" and two.number == "A、B" and not two.counted and two.furthest == []


def test_interview_rule_below_time_progress(runner, shuanghe, frozen_now):
    campaign, township, (a, b, c, d, e) = shuanghe
    first, second = campaign.periods[:2]
    # e last twice, at 40% and 45%: above the 序时进度 each time (32.79% then 36.07%)
    file(first, [(a, 500), (b, 500), (c, 500), (d, 500), (e, 400)], frozen_now, dt.datetime(2022, 10, 7, 9))
    file(second, [(a, 600), (b, 600), (c, 600), (d, 600), (e, 450)], frozen_now, dt.datetime(2022, 10, 16, 9))
    closed = dt.date(2022, 10, 18)
    assert [r.region.code for r in progress(second, township, today=closed).interviews] == [e.code]
    done = runner.invoke(args=["campaign", "interview-rule", str(campaign.id), "--level", "village", "--bottom", "1",
                               "--periods", "2", "--below-time-progress"])
    assert done.exit_code == 0 and "低于序时进度" in done.output
    result = progress(second, township, today=closed)
    assert not result.interviews and "约谈" not in draft_body(result)


def test_an_indicators_label_gives_the_people_a_department_answers_for():
    from reporting.circulars.wording import department_figure, group_word
    assert group_word("重度残疾人已参保人数") == "重度残疾人"
    assert group_word("救助对象应参保人数") == "救助对象"
    assert group_word("其中：困难群众已参保人数") == "困难群众"
    assert group_word("大学生参保人数") == "大学生"
    # counts of everybody, or of no group of people, name none
    assert group_word("居民医保已参保人数") == "" and group_word("已缴费人数") == ""
    assert department_figure("区残联", "重度残疾人已参保人数", 3292) == "区残联重度残疾人已参保3,292人"
    assert department_figure("区税务局", "已缴费人数", 222500) == "区税务局已缴费人数222,500人"


def test_the_requirements_follow_what_the_period_shows(shuanghe, frozen_now):
    """报送纪律 only when someone was late, 应保尽保 only when 困难群众 are uncovered, and 应保尽保 said
    once in its line."""
    from reporting.extensions import db
    from reporting.filing.filing import import_reports

    from .fixtures.basis import values
    campaign, township, (a, b, c, d, e) = shuanghe
    first, second = campaign.periods[:2]
    file(first, [(a, 300), (b, 300), (c, 300), (d, 300), (e, 300)], frozen_now, dt.datetime(2022, 10, 7, 9))
    file(second, [(a, 500), (b, 500), (c, 500), (d, 500), (e, 500)], frozen_now, dt.datetime(2022, 10, 16, 9))
    text = draft_body(progress(second, township, today=dt.date(2022, 10, 18)))
    requirements = text.split("下一步工作要求")[1]
    assert "严肃报送纪律" not in requirements and "确保应保尽保" not in requirements
    assert "本期未发现突出问题。" in text and "（二）保持工作力度" in requirements

    # in the third period e files late, and two of its 困难群众 are not enrolled
    third = campaign.periods[2]
    file(third, [(a, 600), (b, 600), (c, 600), (d, 600)], frozen_now, dt.datetime(2022, 10, 30, 9))
    frozen_now(dt.datetime(2022, 11, 4, 9))
    import_reports(third, [(0, e.code, {**values(600), "hardship_enrolled": 8}, {})], submit=True, reason="补报")
    db.session.commit()
    text = draft_body(progress(third, township, today=dt.date(2022, 11, 4)))
    requirements = text.split("下一步工作要求")[1]
    assert f"本期{e.name}迟报" in text
    assert "严肃报送纪律。各地要严格按照时间节点报送参保进度表" in requirements
    hardship = next(line for line in requirements.splitlines() if "确保应保尽保" in line)
    assert hardship.count("应保尽保") == 1 and "困难群众逐一核实" in hardship
    assert "本期未发现突出问题" not in text


def test_a_supervision_items_number_is_never_split_across_lines():
    from reporting.circulars.document import keep_whole
    text = str(keep_whole("鹤山市督办事项（督办〔2026〕2号）逾期未报送整改情况，请于12月15日前报送"))
    assert '<span class="whole">督办〔2026〕2号</span>' in text and '<span class="whole">12月15日</span>' in text
