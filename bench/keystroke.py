"""What one keystroke costs the browser on the filing grid of 章丘区 (594 villages, 4,752 inputs).

Run: .venv/bin/python bench/keystroke.py [DATABASE_URL]   (default: a SQLite file under bench/out/)
It builds 章丘区 (370114) from ../shared/data/divisions, submits the first period for every village,
serves the app on a free port and opens the second period's grid (every row with carried values) in
Debian's Chromium at 1366×768. Then it types into cells as a clerk does and prints, per keystroke:
  - input to next frame: from the keydown to the first task after the next animation frame (the
    style, layout and paint the keystroke causes);
  - the row's answer: from htmx's swap of the saved row's totals (rate, message, subtotal, total)
    to the first task after the next frame.
Medians and the 95th percentile of each, as a Markdown table.
"""
from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from sqlalchemy import text  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from reporting import clock  # noqa: E402
from reporting.campaigns import create_campaign  # noqa: E402
from reporting.extensions import db  # noqa: E402
from reporting.filing import import_reports  # noqa: E402
from reporting.hierarchy import descendants_at, import_divisions, region_by_code  # noqa: E402
from reporting.models import Region, User  # noqa: E402

DIVISIONS = os.environ.get("BENCH_DIVISIONS") or next(
    (p for p in (os.path.join(ROOT, "..", "shared", "data", "divisions"), "/work/shared/data/divisions")
     if os.path.isdir(p)), "../shared/data/divisions")
COUNTY = "370114"
KEYSTROKES = int(os.environ.get("BENCH_KEYSTROKES", "40"))
NOW = dt.datetime(2022, 10, 12, 9, 0)

# Timestamps kept in the page: one per keystroke, one per swap of a saved row's answer.
PROBE = """() => {
  window.keyCosts = []; window.swapCosts = [];
  const after = (started, into) => requestAnimationFrame(() => setTimeout(() => into.push(performance.now() - started)));
  document.addEventListener("keydown", () => after(performance.now(), window.keyCosts), true);
  document.addEventListener("htmx:beforeSwap", () => after(performance.now(), window.swapCosts), true);
}"""


def build(url: str):
    clock.now = lambda: NOW
    config = {"SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False, "SESSION_COOKIE_SECURE": False,
              "RATELIMIT_ENABLED": False}
    config["DATABASE_URL" if url.startswith("postgres") else "SQLALCHEMY_DATABASE_URI"] = url
    app = create_app(config)
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        db.create_all()
        import_divisions(DIVISIONS, under=COUNTY)
        county = region_by_code(COUNTY)
        campaign, _ = create_campaign(name="基准", root=county, start=dt.date(2022, 9, 1),
                                      end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
        villages = db.session.scalars(descendants_at(county, "village").order_by(Region.code)).all()
        values = {"population": 3000, "should_enroll": 2600, "enrolled": 2000, "hardship_should": 80,
                  "hardship_enrolled": 80, "students_enrolled": 400, "newborns_enrolled": 20,
                  "college_enrolled": 0}
        import_reports(campaign.periods[0], [(n, v.code, values, {}) for n, v in enumerate(villages)], submit=True)
        user = User(username="bench", role="county_filer", region=county, full_name="测", phone="13800000000",
                    session_nonce="")
        user.set_password("grid-bench-password-1")
        db.session.add(user)
        db.session.commit()
        return app, campaign.periods[1].id, [v.code for v in villages]


def main(url: str) -> None:
    from playwright.sync_api import sync_playwright
    app, period_id, codes = build(url)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                                 args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_context(base_url=base, viewport={"width": 1366, "height": 768},
                                       locale="zh-CN").new_page()
            page.goto("/login")
            page.fill("input[name=username]", "bench")
            page.fill("input[name=password]", "grid-bench-password-1")
            page.click("button[type=submit]")
            page.wait_for_url("**/")
            page.goto(f"/filing/{period_id}/{COUNTY}")
            inputs = page.locator("#filing-grid input[data-col]").count()
            page.evaluate(PROBE)
            typed = 0
            for code in codes[:KEYSTROKES]:
                page.locator(f"#c-{code}-enrolled").click()
                page.keyboard.type("2100", delay=120)
                typed += 4
                page.wait_for_function("n => window.swapCosts.length >= n", arg=typed // 4, timeout=20000)
                if typed >= KEYSTROKES:
                    break
            page.wait_for_timeout(300)
            keys, swaps = page.evaluate("[window.keyCosts, window.swapCosts]")
            browser.close()
    finally:
        server.shutdown()
        thread.join()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    p95 = lambda xs: sorted(xs)[max(0, round(len(xs) * 0.95) - 1)]  # noqa: E731
    print(f"<!-- {kind}; Chromium at 1366×768; {inputs:,} inputs on the page; load average "
          f"{os.getloadavg()[0]:.2f} at the end -->")
    print("| measure | samples | median | p95 |")
    print("|---|---|---|---|")
    print(f"| keystroke: input to next frame | {len(keys)} | {statistics.median(keys):.1f} ms | {p95(keys):.1f} ms |")
    print(f"| saved row's answer swapped in (rate, message, subtotal, total): to next frame | {len(swaps)} "
          f"| {statistics.median(swaps):.1f} ms | {p95(swaps):.1f} ms |")


if __name__ == "__main__":
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    main(sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{os.path.join(HERE, 'out', 'keystroke.db')}")
