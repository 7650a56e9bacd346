"""Worker CPU per request, by kind: one gunicorn sync worker, one request at a time.

    .venv/bin/python bench/request_cpu.py [--county 511503] [--baseline DIR]

`make load` shares two cores between 250 people, PostgreSQL and the client, and its figure (the
workers' CPU seconds ÷ requests) mixes every kind of request. This measures each kind alone: it
starts `gunicorn -w 1` on the database the last `make load` left (reporting_load), signs in as that
county's filer (lf<county>) and, for each kind, sends the requests one after the other over
http.client, reading the worker's CPU time (utime + stime, /proc) before and after.

With `--baseline DIR` (a checkout of another commit, e.g. `git worktree add /tmp/before <commit>`)
the same requests run against that code too, the two interleaved kind by kind, so that both meet the
same machine: the table gives both and their ratio. Each checkout writes to one village of the
county only (the first, the second: a correction at each step, as a filer would make), on the load
database, not on any other.
Prints a markdown table; progress goes to standard error.
"""
from __future__ import annotations

import argparse
import atexit
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PASSWORD = "Load-test-2026-pw"  # bench/load.py's accounts
FOOTER = {"filer_name": "张三", "filer_phone": "028-86612345", "filer_head": "李局长"}
SYSTEM_FOOTER = {"name": "信息系统", "phone": "028-86612345", "head": "李局长"}
HZ = os.sysconf("SC_CLK_TCK")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Server:
    """gunicorn -w 1 on one checkout, and a signed-in filer talking to it."""

    def __init__(self, checkout: Path, port: int, database: str, redis: str):
        env = dict(os.environ, DATABASE_URL=database, SECRET_KEY="request-cpu", COOKIE_SECURE="0",
                   REDIS_URL=redis, RATELIMIT_STORAGE_URI=redis)
        self.port, self.cookies = port, {}
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "app:create_app()"], cwd=checkout,
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        atexit.register(self.stop)
        for _ in range(150):
            try:
                if self.request("GET", "/login")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"gunicorn in {checkout} did not answer on :{port}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait()

    def worker_ticks(self) -> int:
        with open(f"/proc/{self.process.pid}/task/{self.process.pid}/children") as f:
            worker = f.read().split()[0]
        with open(f"/proc/{worker}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def request(self, method: str, path: str, form: dict | None = None, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, str, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        sent = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), **(headers or {})}
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=sent)
        answer = connection.getresponse()
        text = answer.read().decode()
        for name, value in answer.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";")[0]
        connection.close()
        return answer.status, text, {k.lower(): v for k, v in answer.getheaders()}


class Filer:
    """The requests of bench/load.py's people, for one county: each method is one request kind."""

    def __init__(self, server: Server, county: str, token: str | None, row: int = 0):
        self.server, self.county, self.token = server, county, token
        _, page, _ = server.request("GET", "/login")
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        status, _, _ = server.request("POST", "/login", {"csrf_token": csrf, "username": f"lf{county}",
                                                         "password": PASSWORD})
        if status not in (302, 303):
            raise SystemExit(f"lf{county} could not sign in ({status}): run `make load` first")
        _, _, headers = server.request("GET", "/filing/")
        self.grid = urllib.parse.urlsplit(headers["location"]).path
        _, html, _ = server.request("GET", self.grid)
        self.csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
        # its own village (the `row`-th of the grid): two checkouts compared never write the same one
        self.village, revision = re.findall(r'id="u-(\d+)".*?name="revision" value="(\d+)"', html, re.S)[row]
        self.revision = int(revision)
        self.api_path = f"/api/v1/reports/{self.village}/{self.grid.split('/')[2]}"

    def expect(self, wanted: int, answer: tuple) -> tuple:
        if answer[0] != wanted:
            raise SystemExit(f"expected {wanted}, got {answer[0]}: {answer[1][:300]}")
        return answer

    def login_page(self):
        self.expect(200, self.server.request("GET", "/login"))

    def home(self):
        self.expect(200, self.server.request("GET", "/"))

    def grid_page(self):
        self.expect(200, self.server.request("GET", self.grid))

    def row_save(self):
        """One cell typed in the grid: a correction of the submitted first village (with its reason)."""
        _, text, _ = self.expect(200, self.server.request(
            "POST", f"{self.grid}/units/{self.village}",
            {"enrolled": str(500 + self.revision % 50), "revision": self.revision, "reason": "据乡镇核实更正"},
            headers={"HX-Request": "true", "X-CSRFToken": self.csrf}))
        found = re.search(r'name="revision" value="(\d+)"', text)
        if "修改原因" in text or not found:
            raise SystemExit(f"the row save was refused: {text[:300]}")
        self.revision = int(found.group(1))

    def submit(self):
        self.expect(204, self.server.request(
            "POST", f"{self.grid}/submit", {**FOOTER, "acknowledge": "y", "reason": "据乡镇核实更正"},
            headers={"HX-Request": "true", "HX-Target": "submit-panel", "X-CSRFToken": self.csrf}))

    def dashboard(self):
        self.expect(200, self.server.request("GET", f"/dashboard/{self.county}"))

    def charts(self):
        self.expect(200, self.server.request("GET", f"/dashboard/{self.county}/charts",
                                             headers={"HX-Request": "true"}))

    def api_get(self) -> dict:
        _, text, _ = self.expect(200, self.server.request(
            "GET", self.api_path, headers={"Authorization": f"Bearer {self.token}"}))
        return json.loads(text)

    def api_put(self):
        """GET then PUT, as the load test's information system does."""
        current = self.api_get()
        values = {**current["values"], "enrolled": 500 + current["revision"] % 50}
        body = json.dumps({"values": values, "filer": SYSTEM_FOOTER, "submit": True,
                           "revision": current["revision"], "reason": "信息系统数据同步更正"}).encode()
        self.expect(200, self.server.request("PUT", self.api_path, body=body, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}))


KINDS = [("GET /login (the floor: a page, no data)", "login_page", 200),
         ("GET / (home)", "home", 200),
         ("POST row save (a correction)", "row_save", 200),
         ("GET grid page", "grid_page", 60),
         ("POST 提交 (all filed)", "submit", 40),
         ("GET /dashboard/<county>", "dashboard", 100),
         ("GET /dashboard/<county>/charts", "charts", 100),
         ("GET /api/v1/reports", "api_get", 200),
         ("GET + PUT /api/v1/reports", "api_put", 100)]


def cpu_per_request(filer: Filer, method: str, count: int) -> float:
    act = getattr(filer, method)
    for _ in range(3):
        act()
    before = filer.server.worker_ticks()
    for _ in range(count):
        act()
    return 1000 * (filer.server.worker_ticks() - before) / HZ / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--county", default="511503", help="a county of the last `make load` (default 511503)")
    parser.add_argument("--baseline", type=Path, help="a checkout of another commit to compare with")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each kind; the median is shown")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/reporting_load")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--port", type=int, default=58300, help="the first checkout's port; the baseline's is the next")
    parser.add_argument("--kinds", help="only the kinds whose method is named here, comma-separated "
                                        "(e.g. row_save,login_page); default all")
    o = parser.parse_args()
    kinds = [k for k in KINDS if not o.kinds or k[1] in o.kinds.split(",")]
    if not kinds:
        raise SystemExit(f"--kinds names none of {', '.join(method for _, method, _ in KINDS)}")
    token = subprocess.run([str(BIN / "flask"), "--app", "app", "users", "token", f"ls{o.county}"], cwd=ROOT,
                           env=dict(os.environ, DATABASE_URL=o.pg_url), capture_output=True, text=True)
    if token.returncode:
        raise SystemExit(f"no API account ls{o.county}: run `make load` first\n{token.stderr[-300:]}")
    token = token.stdout.strip().splitlines()[-1]
    checkouts = [("this checkout", ROOT)] + ([("baseline", o.baseline.resolve())] if o.baseline else [])
    filers = []
    for n, (label, checkout) in enumerate(checkouts):
        server = Server(checkout, o.port + n, o.pg_url, o.redis)
        filers.append(Filer(server, o.county, token, row=n))
        commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        log(f"{label}: {checkout} at {commit}")
        checkouts[n] = (f"{label} ({commit})", checkout)
    results = {label: {} for label, _ in checkouts}
    for kind, method, count in kinds:
        rounds = {label: [] for label, _ in checkouts}
        for _ in range(o.rounds):  # interleaved: both checkouts meet the same minute of the machine
            for (label, _), filer in zip(checkouts, filers):
                rounds[label].append(cpu_per_request(filer, method, count))
        for label in rounds:
            results[label][kind] = statistics.median(rounds[label])
        log(f"  {kind}: " + ", ".join(f"{label} {results[label][kind]:.1f} ms" for label in rounds))
    labels = [label for label, _ in checkouts]
    print(f"| request ({o.county}, one worker, one request at a time) | requests × rounds | "
          + " | ".join(f"{label}: ms CPU per request (median)" for label in labels)
          + (" | this ÷ baseline |" if o.baseline else " |"))
    print("|---|---:|" + "---:|" * len(labels) + ("---:|" if o.baseline else ""))
    for kind, _, count in kinds:
        cells = [f"{results[label][kind]:.1f}" for label in labels]
        ratio = [f"{results[labels[0]][kind] / results[labels[1]][kind]:.2f}×"] if o.baseline else []
        print(f"| {kind} | {count} × {o.rounds} | " + " | ".join(cells + ratio) + " |")


if __name__ == "__main__":
    main()
