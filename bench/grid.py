"""The filing grid of a ~600-village county: server time of the page, one cell update and one submit.

Run: .venv/bin/python bench/grid.py [DATABASE_URL]   (default: a SQLite file under bench/out/)
It builds 章丘区 (370114, 594 villages) from ../shared/data/divisions, files one period as drafts,
then times, through the Flask test client: the grid page, a cell update (htmx), and 提交 of all
594 villages; the baseline is a bare executemany UPDATE of the same 594 rows in the same run. Last,
the page of the second period, whose 594 rows open with the values carried from the first.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from fresh import DIVISIONS, fresh_app  # noqa: E402  (bench/)
from sqlalchemy import select, text  # noqa: E402

from reporting.campaigns.campaigns import create_campaign  # noqa: E402
from reporting.extensions import db  # noqa: E402
from reporting.filing.filing import import_reports  # noqa: E402
from reporting.models import Region, Report, User  # noqa: E402
from reporting.regions.hierarchy import descendants_at, import_divisions, region_by_code  # noqa: E402

COUNTY = "370114"
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
NOW = dt.datetime(2022, 10, 5, 9, 0)  # inside the first period, before its due date


def main(url: str) -> None:
    app = fresh_app(url, NOW)
    with app.app_context():
        import_divisions(DIVISIONS, under=COUNTY)
        county = region_by_code(COUNTY)
        campaign, _ = create_campaign(name="基准", root=county, start=dt.date(2022, 9, 1),
                                      end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
        period = campaign.periods[0]
        villages = db.session.scalars(descendants_at(county, "village").order_by(Region.code)).all()
        values = {"population": 3000, "should_enroll": 2600, "enrolled": 2000, "hardship_should": 80,
                  "hardship_enrolled": 80, "students_enrolled": 400, "newborns_enrolled": 20,
                  "college_enrolled": 0}
        import_reports(period, [(n, v.code, values, {}) for n, v in enumerate(villages)], submit=False)
        user = User(username="bench", role="county_filer", region=county, full_name="测", phone="13800000000",
                    session_nonce="")
        user.set_password("grid-bench-password-1")
        db.session.add(user)
        db.session.commit()
        pid, codes, ids = period.id, [v.code for v in villages], [v.id for v in villages]
        pid2 = campaign.periods[1].id
    client = app.test_client()
    client.post("/login", data={"username": "bench", "password": "grid-bench-password-1"})
    grid = f"/filing/{pid}/{COUNTY}"

    # wall clock, and the process's CPU time: the part a busy machine does not inflate (on SQLite it is
    # the whole request; on PostgreSQL all but the server's own work)
    page, page_cpu = [], []
    for _ in range(RUNS):
        started, cpu = time.perf_counter(), time.process_time()
        assert client.get(grid).status_code == 200
        page.append(time.perf_counter() - started)
        page_cpu.append(time.process_time() - cpu)

    cells = []
    for n in range(RUNS):
        with app.app_context():
            revision = db.session.scalar(select(Report.revision).where(Report.period_id == pid,
                                                                      Report.region_id == ids[n]))
        started = time.perf_counter()
        answer = client.post(f"{grid}/units/{codes[n]}", data={"enrolled": str(2001 + n), "revision": revision},
                             headers={"HX-Request": "true"})
        cells.append(time.perf_counter() - started)
        assert answer.status_code == 200 and "已被他人修改" not in answer.get_data(as_text=True)

    submits, bare = [], []
    footer = {"filer_name": "测试", "filer_phone": "13800000000", "filer_head": "局长", "acknowledge": "y"}
    for _ in range(RUNS):
        with app.app_context():
            db.session.execute(text("UPDATE report SET status = 'draft', submitted_at = NULL WHERE period_id = :p"),
                               {"p": pid})
            db.session.commit()
        started = time.perf_counter()
        answer = client.post(f"{grid}/submit", data=footer, headers={"HX-Request": "true"})
        submits.append(time.perf_counter() - started)
        assert answer.status_code == 204, answer.get_data(as_text=True)[:500]
        with app.app_context():  # the baseline: the same 594 rows, one bare executemany UPDATE
            connection = db.session.connection()
            started = time.perf_counter()
            connection.execute(text("UPDATE report SET status = 'submitted', submitted_at = :t, "
                                    "revision = revision + 1 WHERE id = :i"),
                               [{"t": NOW, "i": i} for i, in connection.execute(
                                   text("SELECT id FROM report WHERE period_id = :p"), {"p": pid})])
            db.session.commit()
            bare.append(time.perf_counter() - started)

    # every village has now submitted the first period: the second opens with 594 carried rows
    carried, carried_cpu = [], []
    with app.app_context():
        db.session.execute(text("UPDATE report SET status = 'submitted', submitted_at = :t WHERE period_id = :p"),
                           {"t": NOW, "p": pid})
        db.session.commit()
    for _ in range(RUNS):
        started, cpu = time.perf_counter(), time.process_time()
        answer = client.get(f"/filing/{pid2}/{COUNTY}")
        carried.append(time.perf_counter() - started)
        carried_cpu.append(time.process_time() - cpu)
        assert answer.status_code == 200

    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    # medians move with the machine's load (a concurrent test run can double them): say what it was
    print(f"<!-- {kind}: load average {os.getloadavg()[0]:.2f} at the end; medians of {RUNS} runs -->")
    print(f"| {kind} | grid page, 594 villages | {RUNS} | {ms(page):,.1f} ms (CPU {ms(page_cpu):,.1f} ms) | — |")
    print(f"| {kind} | grid page of the next period, 594 villages opening with carried values | {RUNS} "
          f"| {ms(carried):,.1f} ms (CPU {ms(carried_cpu):,.1f} ms) | — |")
    print(f"| {kind} | cell update (htmx, saves the row, returns totals) | {RUNS} | {ms(cells):,.1f} ms | — |")
    print(f"| {kind} | 提交 of 594 villages (validate, update, tallies, audit) | {RUNS} | {ms(submits):,.1f} ms "
          f"| bare executemany UPDATE of the 594 rows: {ms(bare):,.1f} ms ({ms(submits) / ms(bare):.1f}×) |")
    # the samples, as the last line, for bench/run.py
    print(json.dumps({name: [x * 1000 for x in xs] for name, xs in
                      (("page_ms", page), ("cell_ms", cells), ("submit_ms", submits), ("bare_ms", bare),
                                                 ("carried_page_ms", carried), ("page_cpu_ms", page_cpu),
                                                 ("carried_page_cpu_ms", carried_cpu))}))
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    main(sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{os.path.join(HERE, 'out', 'grid.db')}")
