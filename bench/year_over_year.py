"""What 上年同期 costs a progress answer: progress() of the Jiangmen demo with and without the link
to last year's campaign, the two interleaved so that both meet the same machine.

    .venv/bin/python bench/year_over_year.py [--database-url URL] [--runs 60]

The demo is loaded into a fresh SQLite file (default) or into the PostgreSQL database the URL names
(its tables are emptied first: name a database of its own). Prints one markdown table: the median
milliseconds of progress() and of the whole answer of `GET /api/v1/progress/{code}` (test client,
bearer token, JSON) for the city and for one county, with and without, and their ratio (the goal:
1.3× at most). The results are kept in bench/YEAR_OVER_YEAR.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from sqlalchemy import text  # noqa: E402

from app import create_app  # noqa: E402
from reporting import clock  # noqa: E402
from reporting.extensions import db  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    config = {"TESTING": True, "SECRET_KEY": "bench"}
    if args.database_url:
        if "bench" not in args.database_url:
            sys.exit("只清空名称含 bench 的数据库")
        config["DATABASE_URL"] = args.database_url
    else:
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tempfile.mkdtemp()}/yoy.db"
    app = create_app(config)
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        db.create_all()
        clock.now = lambda: dt.datetime(2026, 11, 27, 10, 0)
        from reporting.accounts.accounts import create_token
        from reporting.demo.jiangmen import load_demo
        from reporting.models import Campaign, Period, User
        from reporting.progress.ranking import progress
        from reporting.regions.hierarchy import region_by_code
        load_demo(echo=lambda line: None)
        db.session.commit()
        campaign = db.session.scalar(db.select(Campaign).order_by(Campaign.start.desc()).limit(1))
        period_id, previous_id = campaign.periods[3].id, campaign.previous_id
        admin = db.session.scalar(db.select(User).where(User.username == "jm_admin"))
        headers = {"Authorization": f"Bearer {create_token(admin, admin, 'bench')}"}
        db.session.commit()
        client = app.test_client()

        def answer(code: str) -> None:
            reply = client.get(f"/api/v1/progress/{code}?period={period_id}", headers=headers)
            assert reply.status_code == 200, reply.data[:200]

        print("| what | region | with 上年同期 (ms) | without (ms) | ratio |\n|---|---|---:|---:|---:|")
        for what, code in (("progress()", "4407"), ("progress()", "440705"),
                           ("GET /api/v1/progress", "4407"), ("GET /api/v1/progress", "440705")):
            times: dict[bool, list[float]] = {True: [], False: []}
            for n in range(args.runs):
                linked = n % 2 == 0
                campaign.previous_id = previous_id if linked else None
                db.session.commit()
                db.session.expire_all()  # as a request starts: nothing loaded
                started = time.perf_counter()
                if what == "progress()":
                    region, period = region_by_code(code), db.session.get(Period, period_id)
                    started = time.perf_counter()
                    progress(period, region)
                else:
                    answer(code)
                times[linked].append(time.perf_counter() - started)
            with_, without = (statistics.median(times[k][4:]) * 1000 for k in (True, False))
            print(f"| {what} | {code} | {with_:.1f} | {without:.1f} | {with_ / without:.2f}× |")
        campaign.previous_id = previous_id
        db.session.commit()


if __name__ == "__main__":
    main()
