"""Where the time goes: cProfile plus per-statement SQL timings of one benchmark step.

Run after `make bench` (it leaves both databases loaded), from the project root:

    DATABASE_URL=sqlite:///$PWD/bench/out/bench.db .venv/bin/python bench/hotspots.py progress 37 8
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/reporting_bench .venv/bin/python bench/hotspots.py progress 37 8
    DATABASE_URL=... .venv/bin/python bench/hotspots.py import 8 bench/out/csv/37_period8.csv
    DATABASE_URL=... .venv/bin/python bench/hotspots.py dashboard 37 8

`progress CODE PERIOD_ID`: reporting.progress.ranking.progress(), warm, in a fresh session.
`import PERIOD_ID FILE [--cprofile]`: what `flask reports import PERIOD FILE --submit` runs (read_table, rows_from_table,
import_reports, the flush its commit does), with the clock at 09:00 of the period's due day, rolled back at the end (nothing is
kept; the period may already hold rows, the import then takes its update path with a reason).
`dashboard CODE PERIOD_ID`: GET /dashboard/CODE?period=ID under the test client as the bench user.

Prints the SQL statements by total time, the share of time spent waiting for the database, and the
top functions by cumulative and by own time.
"""
from __future__ import annotations

import cProfile
import datetime as dt
import io
import os
import pstats
import sys
import time
from collections import defaultdict

sys.path.insert(0, os.getcwd())


class SqlClock:
    """Total time per SQL statement, from SQLAlchemy's cursor events."""

    def __init__(self, engine):
        from sqlalchemy import event
        self.totals: dict[str, list[float]] = defaultdict(list)
        self.started: list[float] = []
        event.listen(engine, "before_cursor_execute", self.before)
        event.listen(engine, "after_cursor_execute", self.after)
        # the whole Core execution: compiling, processing every row's parameters, the cursor
        self.core = 0.0
        self.core_started: list[float] = []
        event.listen(engine, "before_execute", lambda *a: self.core_started.append(time.perf_counter()))
        event.listen(engine, "after_execute", self.after_core)

    def after_core(self, *args):
        self.core += time.perf_counter() - self.core_started.pop()

    def before(self, conn, cursor, statement, parameters, context, executemany):
        self.started.append(time.perf_counter())

    def after(self, conn, cursor, statement, parameters, context, executemany):
        key = " ".join(statement.split())[:160] + (" [executemany]" if executemany else "")
        self.totals[key].append(time.perf_counter() - self.started.pop())

    def report(self, wall: float) -> None:
        spent = sum(sum(v) for v in self.totals.values())
        print(f"\nwall {wall * 1000:,.1f} ms; SQL (cursor.execute until it returns) {spent * 1000:,.1f} ms "
              f"= {spent / wall:.0%}; the rest is Python (ORM, validation, rendering, fetching rows)")
        for statement, times in sorted(self.totals.items(), key=lambda kv: -sum(kv[1]))[:15]:
            print(f"  {sum(times) * 1000:9.1f} ms  {len(times):4d}×  {statement}")


class _Timer:
    __slots__ = ("phases", "name", "started")

    def __init__(self, phases: "Phases", name: str):
        self.phases, self.name = phases, name

    def __enter__(self):
        self.started = time.perf_counter()

    def __exit__(self, *exc):
        self.phases.spent[self.name] += time.perf_counter() - self.started
        self.phases.calls[self.name] += 1


class Phases:
    """Wall time inside chosen functions (no profiler overhead): where an import's time goes."""

    def __init__(self):
        self.spent: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def timer(self, name: str) -> "_Timer":
        return _Timer(self, name)

    def wrap(self, module, attribute: str, name: str) -> None:
        original = getattr(module, attribute, None)
        if original is None:
            return

        def timed(*args, **kwargs):
            with self.timer(name):
                return original(*args, **kwargs)
        setattr(module, attribute, timed)

    def report(self, wall: float, clock: "SqlClock") -> None:
        print(f"\nwall {wall:,.2f} s, by phase (SQL counts cursor.execute/executemany only):")
        sql = sum(sum(v) for v in clock.totals.values())
        for name, spent in sorted(self.spent.items(), key=lambda kv: -kv[1]):
            print(f"  {spent:8.2f} s  {spent / wall:4.0%}  {self.calls[name]:7,d} calls  {name}")
        print(f"  {sql:8.2f} s  {sql / wall:4.0%}  all SQL in the driver (cursor.execute/executemany), "
              f"also inside the phases above, e.g. audit.record_many")
        print(f"  {clock.core:8.2f} s  {clock.core / wall:4.0%}  all SQLAlchemy Core executions (compile, bind "
              f"processing of every row: JSON, dates; plus the driver)")


def profiled(function):
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    result = function()
    profile.disable()
    wall = time.perf_counter() - started
    return result, wall, profile


def print_profile(profile: cProfile.Profile) -> None:
    for order, count in (("cumulative", 35), ("tottime", 20)):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).strip_dirs().sort_stats(order).print_stats(count)
        print(f"\n--- by {order} ---")
        print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))


def main(argv: list[str]) -> None:
    from app import create_app
    from reporting.extensions import db
    what = argv[0]
    app = create_app({"WTF_CSRF_ENABLED": False})
    with app.app_context():
        clock = SqlClock(db.engine)
        if what == "progress":
            from reporting.models import Period
            from reporting.progress.ranking import progress
            from reporting.regions.hierarchy import region_by_code
            code, period_id = argv[1], int(argv[2])
            for _ in range(2):  # warm: imports, caches, the database's pages
                db.session.remove()
                progress(db.session.get(Period, period_id), region_by_code(code))
            db.session.remove()
            region, period = region_by_code(code), db.session.get(Period, period_id)
            clock.totals.clear()
            _, wall, profile = profiled(lambda: progress(period, region))
        elif what == "import":
            from reporting import clock as server_clock
            from reporting.filing.filing import import_reports
            from reporting.models import Period
            from reporting.spreadsheets import read_table
            from reporting.tables import rows_from_table
            period = db.session.get(Period, int(argv[1]))
            moment = dt.datetime.combine(period.due, dt.time(9))
            server_clock.now = lambda: moment
            clock.totals.clear()
            phases = Phases()
            from reporting.filing import filing
            # whichever of these the code has (it changes): validation, warnings, bulk writes, audit
            for name in ("parse_values", "check", "_jump_warnings", "insert_rows"):
                phases.wrap(filing, name, f"filing.{name}")
            if hasattr(filing, "audit"):
                for name in ("record", "record_many"):
                    phases.wrap(filing.audit, name, f"audit.{name}")

            def run():
                with phases.timer("read_table"):
                    header, body = read_table(argv[2])
                with phases.timer("rows_from_table"):
                    rows = rows_from_table(period.campaign.indicators, header, body)
                outcome = import_reports(period, rows, submit=True, reason="profile")
                with phases.timer("session.flush (what the commit writes: pending ORM objects)"):
                    db.session.flush()
                return outcome
            if "--cprofile" in argv:
                result, wall, profile = profiled(run)
            else:
                started = time.perf_counter()
                result, profile = run(), None
                wall = time.perf_counter() - started
            print(f"loaded {result.loaded:,} rows (inserted {result.inserted:,}, updated {result.updated:,}); "
                  f"{result.loaded / wall:,.0f} rows/s before the commit; rolled back")
            phases.report(wall, clock)
            db.session.rollback()
        elif what == "dashboard":
            code, period_id = argv[1], int(argv[2])
            client = app.test_client()
            login = client.post("/login", data={"username": os.environ.get("BENCH_USER", "bench"),
                                                "password": os.environ.get("BENCH_PASSWORD", "Measure-Speed-2022")})
            assert login.status_code == 303, login.status_code
            for _ in range(2):
                client.get(f"/dashboard/{code}?period={period_id}")
            clock.totals.clear()
            response, wall, profile = profiled(lambda: client.get(f"/dashboard/{code}?period={period_id}"))
            assert response.status_code == 200, response.status_code
        else:
            raise SystemExit(__doc__)
    clock.report(wall)
    if profile is not None:
        print_profile(profile)


if __name__ == "__main__":
    main(sys.argv[1:] or ["help"])
