"""The draft 通报's sentences, as real circulars write them: 均按时报送, ties named together, no 其中
before a single unit, 连续两期, and the units that have not reported named."""
import datetime as dt

from reporting.circulars import draft_body
from reporting.ranking import progress

from .test_basis import file, town  # noqa: F401 (the fixture)


def test_wording_of_ties_single_units_and_punctual_reporting(town, frozen_now):  # noqa: F811
    campaign, township, (a, b, c, d, e) = town
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


def test_a_single_laggard_has_no_qizhong_and_the_unfiled_are_named(town, frozen_now):  # noqa: F811
    campaign, township, (a, b, c, d, e) = town
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
