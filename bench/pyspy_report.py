"""Where the workers' CPU went during a load run: the top functions per request kind.

    .venv/bin/python bench/pyspy_report.py DIR [SAMPLES_CSV] [--top 15]

DIR holds the raw stacks `bench/load.py --profile DIR` recorded with py-spy (spy-A.txt, spy-B.txt:
one line per distinct stack, "frame;frame;… count", 100 samples a second of each busy worker).
Each sample is given to the view it ran in (the first frame in reporting/views/), and the views to
the request kinds of bench/load.py; what runs outside a view (WSGI, the session, before-request
hooks, the answer's writing) is its own group. Samples whose innermost frame waits on another
process (WAITS) are left out. Per group: its CPU, in milliseconds per request (with the request
counts of SAMPLES_CSV, by default bench/out/load/samples.csv), and the functions with the most
samples of their own (`self`), with the share that passed through them (`total`). Prints markdown.
"""
from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RATE = 100  # samples per second, as bench/load.py starts py-spy

#: view (file:function) -> the request kinds of bench/load.py it serves
VIEWS = {
    "reporting/accounts/auth.py:login": ["GET /login", "POST /login"],
    "reporting/home/views.py:index": ["GET / (home)"],
    "reporting/filing/views.py:index": ["GET /filing/ (303 to grid)"],
    "reporting/filing/views.py:grid": ["GET grid page"],
    "reporting/filing/views.py:update_unit": ["POST row save (htmx)"],
    "reporting/filing/views.py:submit": ["POST 提交 (htmx)"],
    "reporting/api/views.py:get_report": ["GET /api/v1/reports"],
    "reporting/api/views.py:put_report": ["PUT /api/v1/reports"],
    "reporting/dashboard/views.py:show": ["GET /dashboard/<city>", "GET /dashboard/<county>"],
    "reporting/dashboard/views.py:charts": ["GET /dashboard/<city>/charts (htmx)"],
    "reporting/api/views.py:region_progress": ["GET /api/v1/progress/<city>"],
}
OUTSIDE = "outside the views (WSGI, session, hooks, writing the answer)"
#: leaf frames where a worker waits on another process (PostgreSQL, Redis, the client's socket), or
#: a sample that py-spy counts although the thread is blocked: counted apart, not as CPU
WAITS = {
    ("psycopg/connection.py", "Connection.wait"), ("psycopg/_cursor_base.py", "BaseCursor._execute_send"),
    ("psycopg/_connection_base.py", "BaseConnection._exec_command"),
    ("psycopg/_pipeline_base.py", "BasePipeline._communicate_gen"),
    ("psycopg/_pipeline_base.py", "BasePipeline._fetch_gen"),
    ("redis/_parsers/socket.py", "SocketBuffer._read_from_socket"),
    ("redis/connection.py", "AbstractConnection.send_packed_command"),
    ("gunicorn/util.py", "close_graceful"), ("gunicorn/util.py", "write"),
    ("gunicorn/arbiter.py", "Arbiter.wait_for_signals"), ("gunicorn/arbiter.py", "Arbiter.sleep"),
    ("gunicorn/workers/sync.py", "SyncWorker.wait"),
}
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def frames(stack: str) -> list[tuple[str, str]]:
    """(file, function) of each Python frame, outermost first; py-spy's process entries dropped."""
    out = []
    for part in stack.split(";"):
        if part.startswith("process ") or part.startswith("thread "):
            continue
        found = FRAME.match(part)
        if found:
            out.append((found["file"], found["function"]))
    return out


def group_of(stack: list[tuple[str, str]]) -> str:
    """The view a sample ran in: the outermost frame of reporting/views/ that is not a decorator's
    wrapper (a function defined inside another, like token_required's)."""
    for file, function in stack:
        if file.startswith("reporting/views/") and "<locals>" not in function:
            return f"{file}:{function}"
    return OUTSIDE


def read_samples(directory: Path) -> dict[str, list[tuple[list[tuple[str, str]], int]]]:
    groups: dict[str, list] = defaultdict(list)
    for path in sorted(directory.glob("spy-*.txt")):
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            parsed = frames(stack)
            if parsed:
                groups[group_of(parsed)].append((parsed, int(count)))
    return groups


def on_cpu(stacks: list) -> list:
    return [(stack, n) for stack, n in stacks if stack[-1] not in WAITS]


def request_counts(path: Path) -> Counter:
    counts: Counter = Counter()
    if path.exists():
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                counts[row["kind"]] += 1
    return counts


def short(file: str, function: str) -> str:
    return f"`{function}` ({file})"


def table(stacks: list, top: int) -> list[str]:
    total = sum(n for _, n in stacks)
    own: Counter = Counter()
    through: Counter = Counter()
    for stack, n in stacks:
        own[stack[-1]] += n
        for frame in set(stack):
            through[frame] += n
    lines = ["| # | function | self | total |", "|---:|---|---:|---:|"]
    for rank, (frame, n) in enumerate(own.most_common(top), 1):
        lines.append(f"| {rank} | {short(*frame)} | {100 * n / total:.1f} % | {100 * through[frame] / total:.1f} % |")
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("samples", nargs="?", default=str(BENCH / "out" / "load" / "samples.csv"))
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--cpu", type=float,
                        help="the workers' CPU seconds that bench/load.py measured: the CPU samples are "
                             "scaled to it (on a busy machine py-spy also samples threads waiting for a core)")
    o = parser.parse_args(argv)
    groups = read_samples(Path(o.directory))
    if not groups:
        print(f"no py-spy stacks in {o.directory}", file=sys.stderr)
        return 1
    counts = request_counts(Path(o.samples))
    requests = sum(counts.values())
    everything = sum(n for stacks in groups.values() for _, n in stacks)
    busy = sum(n for stacks in groups.values() for _, n in on_cpu(stacks))
    scale = o.cpu / busy if o.cpu else 1 / RATE  # CPU seconds per sample
    print(f"{everything:,} samples, of which {busy:,} not waiting on PostgreSQL, Redis or a socket "
          f"({100 * busy / everything:.0f} %)" + (f", scaled to the workers' {o.cpu:,.1f} CPU-seconds" if o.cpu else "")
          + f"; {requests:,} requests: {1000 * busy * scale / max(1, requests):.1f} ms of CPU per request.\n")
    order = sorted(groups, key=lambda g: -sum(n for _, n in on_cpu(groups[g])))
    for group in order:
        stacks = on_cpu(groups[group])
        samples = sum(n for _, n in stacks)
        if not samples:
            continue
        kinds = VIEWS.get(group, [])
        served = sum(counts[k] for k in kinds) if group != OUTSIDE else requests
        per = f", {1000 * samples * scale / served:.1f} ms per request over {served:,}" if served else ""
        title = group if group == OUTSIDE else f"`{group}`" + (f" ({', '.join(kinds)})" if kinds else "")
        print(f"#### {title}: {samples * scale:,.1f} CPU-s ({100 * samples / busy:.0f} %){per}\n")
        print("\n".join(table(stacks, o.top)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
