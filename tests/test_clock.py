"""The clock: the machine's time in Beijing unless REPORTING_TODAY stops it, for this process and the
ones it starts; the setting is off unless someone sets it."""
import datetime as dt
import os
import subprocess
import sys

import pytest

from reporting import clock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_without_the_setting_the_clock_is_the_machines_in_beijing(monkeypatch):
    # the one test that reads the machine's clock: production runs without the setting
    monkeypatch.delenv(clock.SETTING, raising=False)
    assert clock.setting() is None
    before = dt.datetime.now(clock.ZONE).replace(tzinfo=None, microsecond=0)
    now = clock.now()
    after = dt.datetime.now(clock.ZONE).replace(tzinfo=None)
    assert before <= now <= after and clock.today() == now.date()


@pytest.mark.parametrize("value, moment", [
    ("2026-12-16", dt.datetime(2026, 12, 16, 10, 0)),                 # a day: office hours
    ("2026-12-15T23:59:30", dt.datetime(2026, 12, 15, 23, 59, 30)),   # a second
    ("2026-12-15 23:59", dt.datetime(2026, 12, 15, 23, 59)),
    ("2026-12-15T16:00:00+00:00", dt.datetime(2026, 12, 16, 0, 0)),  # UTC, read in Beijing
])
def test_the_setting_stops_the_clock_at_its_moment(monkeypatch, value, moment):
    monkeypatch.setenv(clock.SETTING, value)
    assert clock.now() == moment == clock.now() and clock.today() == moment.date()


def test_a_setting_that_is_no_date_says_so(monkeypatch):
    monkeypatch.setenv(clock.SETTING, "next tuesday")
    with pytest.raises(clock.ClockSettingError, match="不是日期"):
        clock.now()


def test_processes_started_by_a_test_share_its_clock(frozen_now):
    frozen_now(dt.datetime(2027, 1, 1, 0, 0))
    shown = subprocess.run([sys.executable, "-c", "from reporting import clock; print(clock.now().isoformat())"],
                           cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, capture_output=True, text=True,
                           timeout=60, check=True).stdout.strip()
    assert shown == "2027-01-01T00:00:00"


def test_a_wrong_setting_stops_the_app_at_start(monkeypatch):
    from app import create_app
    monkeypatch.setenv(clock.SETTING, "2026-13-01")
    with pytest.raises(clock.ClockSettingError):
        create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
