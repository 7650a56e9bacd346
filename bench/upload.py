"""How long, and how much memory, one grid upload of a huge workbook costs: 900,000 rows against
新会区 (242 villages). Each run is a fresh process, so that its peak RSS is its own.

    .venv/bin/python bench/upload.py [--rows 900000]

Prints a markdown table: the file, the time to the answer, the peak RSS, and the answer.
The workbook is made once into bench/out/ (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))


def make_workbook(path: Path, rows: int) -> None:
    """The grid's own header, then `rows` unit rows with made-up codes and one count each."""
    from openpyxl import Workbook
    book = Workbook(write_only=True)
    sheet = book.create_sheet("进度表")
    sheet.append(["单位代码", "单位名称", "常住人口数", "居民医保应参保人数", "居民医保已参保人数",
                  "困难群众应参保人数", "困难群众已参保人数", "中小学生及在园幼儿已参保人数", "新生儿已参保人数",
                  "大学生参保人数"])
    for n in range(rows):
        sheet.append([440705000000 + n, None, None, None, 2000])  # ≈ 10 MB, as the probe's file
    book.save(path)


def one_upload(path: str) -> dict:
    """In this process: a SQLite app with 新会区's campaign; its filer uploads the file."""
    import datetime as dt

    from app import create_app
    from reporting import clock
    from reporting.campaigns.campaigns import create_campaign
    from reporting.extensions import db
    from reporting.models import User
    from reporting.regions.hierarchy import import_divisions, region_by_code
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                          "SESSION_COOKIE_SECURE": False, "RATELIMIT_ENABLED": False,
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/upload.db"})
        clock.now = lambda: dt.datetime(2022, 10, 5, 10, 0)
        with app.app_context():
            db.create_all()
            import_divisions(str(ROOT / "reporting" / "data" / "jiangmen"))
            campaign, _ = create_campaign(name="江门市2023年度", root=region_by_code("4407"),
                                          start=dt.date(2022, 9, 1), end=dt.date(2022, 12, 31),
                                          first_due=dt.date(2022, 10, 1))
            user = User(username="xinhui", role="county_filer", region=region_by_code("440705"))
            user.set_password("correct-horse-battery")
            db.session.add(user)
            db.session.commit()
            url = f"/filing/{campaign.periods[0].id}/440705/upload"
            client = app.test_client()
            client.post("/login", data={"username": "xinhui", "password": "correct-horse-battery"})
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started = time.perf_counter()
            with open(path, "rb") as f:
                answer = client.post(url, data={"workbook": (f, "进度表.xlsx")},
                                     content_type="multipart/form-data")
            seconds = time.perf_counter() - started
            text = answer.get_data(as_text=True)
            found = re.findall(r"<td>([^<]+)</td></tr>", text)
            message = found[0] if found else ""
            db.session.remove()
            db.engine.dispose()
    return {"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "before_mib": before / 1024, "status": answer.status_code, "message": message}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=900_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_upload(args.child), ensure_ascii=False))
        return
    OUT.mkdir(exist_ok=True)
    path = OUT / f"upload-{args.rows}.xlsx"
    if not path.exists():
        print(f"making {path} …", file=sys.stderr)
        make_workbook(path, args.rows)
    result = json.loads(subprocess.run([sys.executable, __file__, "--child", str(path)], check=True,
                                       capture_output=True, text=True, cwd=ROOT).stdout.splitlines()[-1])
    print("| file | rows | time to the answer | peak RSS (before the upload) | answer |")
    print("|---|---:|---:|---:|---|")
    print(f"| {path.name}, {os.path.getsize(path) / 2 ** 20:.1f} MiB | {args.rows:,} | {result['seconds']:.1f} s "
          f"| {result['peak_mib']:.0f} MiB ({result['before_mib']:.0f} MiB) | {result['status']} {result['message']} |")


if __name__ == "__main__":
    main()
