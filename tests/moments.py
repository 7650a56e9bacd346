"""The moments that break date logic, for the tests that depend on the day (pytest.mark.parametrize).

Semi-monthly due dates fall on the 1st and the 15th, so the days around them; a month's last day;
the turn of the year (2027 is past chinesecalendar's table); the last minute of a due day and the first
of the next; a day inside 春节; a 调休 Saturday, which is a working day.
"""
import datetime as dt

import pytest

MOMENTS = [
    pytest.param(dt.datetime(2026, 11, 1, 10, 0), id="1st"),
    pytest.param(dt.datetime(2026, 11, 14, 10, 0), id="14th"),
    pytest.param(dt.datetime(2026, 12, 15, 10, 0), id="15th"),
    pytest.param(dt.datetime(2026, 11, 16, 10, 0), id="16th"),
    pytest.param(dt.datetime(2026, 11, 30, 10, 0), id="month-end"),
    pytest.param(dt.datetime(2026, 12, 31, 10, 0), id="31-dec"),
    pytest.param(dt.datetime(2027, 1, 1, 10, 0), id="1-jan"),
    pytest.param(dt.datetime(2026, 12, 15, 23, 59), id="due-day-23h59"),
    pytest.param(dt.datetime(2026, 12, 16, 0, 0), id="after-due-00h00"),
    pytest.param(dt.datetime(2026, 12, 1, 0, 0), id="due-day-00h00"),
    pytest.param(dt.datetime(2026, 2, 18, 10, 0), id="spring-festival"),
    pytest.param(dt.datetime(2026, 10, 10, 10, 0), id="makeup-saturday"),
]
