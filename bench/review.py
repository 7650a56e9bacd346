"""退回/审核 in bulk, the publication lock, 催报 and the reviewer's pages over a whole city.

Run: .venv/bin/python bench/review.py [DATABASE_URL]   (default: a SQLite file under bench/out/)
It builds 江门市 (1,348 villages, shipped with the project), submits one period for every village,
then times each step once per run (median of BENCH_RUNS runs, each on freshly submitted reports):
approve every village of the city in one bulk action, return them all, lock them as an issued 通报
does (the lock only, not the PDF), draft and record a 催报 to the seven counties, and render the
city's review page and status board. It prints a table.
"""
from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from fresh import JIANGMEN, fresh_app  # noqa: E402  (bench/)
from sqlalchemy import select  # noqa: E402

from reporting.campaigns.campaigns import create_campaign  # noqa: E402
from reporting.extensions import db  # noqa: E402
from reporting.filing.filing import import_reports  # noqa: E402
from reporting.models import Circular, Region, Reminder, ReminderMessage, Review, ReviewAction, User  # noqa: E402
from reporting.regions.hierarchy import descendants_at, import_divisions, region_by_code  # noqa: E402
from reporting.reminders import reminders
from reporting.review import review

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
NOW = dt.datetime(2022, 10, 5, 9, 0)
VALUES = {"population": 3000, "should_enroll": 2600, "enrolled": 2000, "hardship_should": 80,
          "hardship_enrolled": 78, "students_enrolled": 400, "newborns_enrolled": 20, "college_enrolled": 0}


def timed(results: dict, name: str, run) -> None:
    started = time.perf_counter()
    run()
    db.session.commit()
    results.setdefault(name, []).append(time.perf_counter() - started)


def main(url: str) -> None:
    app = fresh_app(url, NOW)
    with app.app_context():
        import_divisions(JIANGMEN)
        city = region_by_code("4407")
        campaign, _ = create_campaign(name="江门市2023年度", root=city, start=dt.date(2022, 9, 1),
                                      end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
        period = campaign.periods[0]
        codes = list(db.session.scalars(descendants_at(city, "village").with_only_columns(Region.code)))
        import_reports(period, [(n, c, VALUES, {"name": "填表人", "phone": "13800000000", "head": "负责人"})
                                for n, c in enumerate(codes)], submit=True)
        admin = User(username="admin", role="city_admin", region=city, full_name="管理员", phone="")
        admin.set_password("bench-password-123")
        db.session.add(admin)
        db.session.commit()
        circular = Circular(campaign=campaign, period=period, region=city, status="issued", title="通报", body="",
                            issue_no=1, doc_prefix="江医保", doc_year=2022, doc_seq=1, issued_at=NOW)
        db.session.add(circular)
        db.session.commit()
        client = app.test_client()
        client.post("/login", data={"username": "admin", "password": "bench-password-123"})
        results: dict[str, list[float]] = {}
        for _ in range(RUNS):
            for table in (ReviewAction, Review, ReminderMessage, Reminder):
                db.session.execute(table.__table__.delete())
            db.session.commit()
            timed(results, f"审核通过 全市{len(codes):,}个村（一次批量）",
                  lambda: review.act_all(period, city, "approve", admin))
            timed(results, f"退回 全市{len(codes):,}个村（一次批量）",
                  lambda: review.act_all(period, city, "return", admin, "请核实"))
            timed(results, f"通报锁定 {len(codes):,}份报表", lambda: review.publish(circular, admin))
            timed(results, "催报 7个县（起草并记录）", lambda: reminders.send(period, city, admin))
            timed(results, "审核页 新会区（HTTP）",
                  lambda: client.get(f"/review/440705?period={period.id}").close())
            timed(results, "督导页 江门市含报送情况（HTTP）",
                  lambda: client.get(f"/dashboard/4407?period={period.id}").close())
        assert db.session.scalar(select(db.func.count()).select_from(Review)) == len(codes)
        db.session.remove()
        db.engine.dispose()
    dialect = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"\n{dialect}: median of {RUNS} runs")
    print("| step | median ms | min ms |\n|---|---:|---:|")
    for name, times in results.items():
        print(f"| {name} | {statistics.median(times) * 1000:,.0f} | {min(times) * 1000:,.0f} |")


if __name__ == "__main__":
    out = os.path.join(HERE, "out")
    os.makedirs(out, exist_ok=True)
    main(sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{os.path.join(out, 'review.db')}")
