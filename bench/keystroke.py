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
import json
import os
import statistics
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from fresh import DIVISIONS, fresh_app  # noqa: E402  (bench/)
from werkzeug.serving import make_server  # noqa: E402

from reporting.campaigns.campaigns import create_campaign  # noqa: E402
from reporting.extensions import db  # noqa: E402
from reporting.filing.filing import import_reports  # noqa: E402
from reporting.models import Region, User  # noqa: E402
from reporting.regions.hierarchy import descendants_at, import_divisions, region_by_code  # noqa: E402

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
    app = fresh_app(url, NOW)
    with app.app_context():
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
            browser.start_tracing(page=page, categories=["devtools.timeline"])
            typed = 0
            for code in codes[:KEYSTROKES // 4]:
                page.locator(f"#c-{code}-enrolled").click()
                page.keyboard.type("2100", delay=120)
                typed += 1
                page.wait_for_function("n => window.swapCosts.length >= n", arg=typed, timeout=20000)
            page.wait_for_timeout(300)
            trace = json.loads(browser.stop_tracing())
            keys, swaps = page.evaluate("[window.keyCosts, window.swapCosts]")
            browser.close()
    finally:
        server.shutdown()
        thread.join()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    work = rendering(trace["traceEvents"])
    p95 = lambda xs: sorted(xs)[max(0, round(len(xs) * 0.95) - 1)]  # noqa: E731
    print(f"<!-- {kind}; Chromium at 1366×768; {inputs:,} inputs on the page; load average "
          f"{os.getloadavg()[0]:.2f} at the end -->")
    print("| measure | samples | median | p95 |")
    print("|---|---|---|---|")
    print(f"| keystroke: input to next frame (wall clock) | {len(keys)} | {statistics.median(keys):.1f} ms "
          f"| {p95(keys):.1f} ms |")
    print(f"| saved row's answer swapped in (rate, message, subtotal, total): to next frame (wall clock) "
          f"| {len(swaps)} | {statistics.median(swaps):.1f} ms | {p95(swaps):.1f} ms |")
    for what, label in (("key", "keystroke"), ("swap", "saved row's answer")):
        cpu = [sum(parts.values()) for parts in work[what]]
        objects = [n for n in work[f"{what}_objects"]] or [0]
        print(f"| {label}: style + layout + paint, renderer CPU time | {len(cpu)} | {statistics.median(cpu):.1f} ms "
              f"| {p95(cpu):.1f} ms |")
        phases = sorted({name for parts in work[what] for name in parts})
        detail = ", ".join(f"{name} {statistics.median([parts.get(name, 0) for parts in work[what]]):.1f}"
                           for name in phases)
        print(f"|  of which (medians, ms): {detail} | | | |")
        print(f"| {label}: layout objects laid out per layout | {len(objects)} | {statistics.median(objects):,.0f} "
              f"| {p95(objects):,.0f} |")


#: the renderer's work that a change of the page causes
RENDERING = {"UpdateLayoutTree", "Layout", "PrePaint", "Paint", "Layerize", "UpdateLayer", "HitTest",
             "IntersectionObserverController::computeIntersections"}


def rendering(events: list[dict]) -> dict:
    """Renderer CPU time (thread duration) of style, layout and paint after each keystroke and after
    each swap of a saved row's answer, attributed to the latest of these before it."""
    marks = []
    for e in events:
        data = (e.get("args") or {}).get("data") or {}
        if e.get("name") == "EventDispatch" and data.get("type") == "keydown":
            marks.append((e["ts"], "key"))
        elif e.get("name") == "XHRReadyStateChange" and data.get("readyState") == 4:
            marks.append((e["ts"], "swap"))
    marks.sort()
    work = {"key": [{} for m in marks if m[1] == "key"], "swap": [{} for m in marks if m[1] == "swap"],
            "key_objects": [], "swap_objects": []}
    index = {"key": -1, "swap": -1}
    slots = []
    for ts, kind in marks:
        index[kind] += 1
        slots.append((ts, kind, index[kind]))
    for e in sorted((e for e in events if e.get("ph") == "X" and e.get("name") in RENDERING), key=lambda e: e["ts"]):
        before = [s for s in slots if s[0] <= e["ts"]]
        if not before:
            continue
        _, kind, n = before[-1]
        took = (e.get("tdur") or e.get("dur") or 0) / 1000
        work[kind][n][e["name"]] = work[kind][n].get(e["name"], 0) + took
        if e["name"] == "Layout":
            total = ((e.get("args") or {}).get("beginData") or {}).get("dirtyObjects")
            if total:
                work[f"{kind}_objects"].append(total)
    return work

if __name__ == "__main__":
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    main(sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{os.path.join(HERE, 'out', 'keystroke.db')}")
