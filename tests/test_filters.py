"""The one rate filter: two decimals, and a rate short of 100% never prints as 100.00%."""
from reporting.filters import percent


def test_a_rate_short_of_full_never_prints_as_full():
    # 开平市's difficult groups: 25,904 of 25,905 enrolled, one person still missing
    assert percent(25904 / 25905) == "99.99%"
    assert percent(1.0) == "100.00%"
    assert percent(0.95123) == "95.12%" and percent(0.99994) == "99.99%" and percent(None) == "—"
