"""What bench/run.py, bench/workers.py and bench/load.py share. Standard library only: run.py
imports it and must hold no data of its own (see run.py)."""
from __future__ import annotations

import hashlib
import os
import platform
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

#: when the script started (this module is imported first thing); log lines count from here
STARTED = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, Python {platform.python_version()}"


def checkout(root: Path) -> str:
    """The commit under test, and whether the working tree differs from it (the benchmarks' own
    result files aside: a run rewrites them, and they are not the code measured)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)bench/RESULTS.md", ":(exclude)bench/LOAD.md"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "not a git checkout"
    if not head:
        return "not a git checkout"
    return f"commit {head}{' with uncommitted changes' if dirty else ''}"


def load_average(digits: int = 1) -> str:
    return " / ".join(f"{v:.{digits}f}" for v in os.getloadavg())


def simulate(codes: list[str], count: int, seed: int, final_max: float = 1.0) -> list[tuple[str, list[tuple]]]:
    """Per village, `count` periods of cumulative counts that rise period by period.

    应参保 stays fixed; every 其中 part stays within its total (hardship_should <= should_enroll;
    hardship, students and newborns enrolled <= enrolled); enrolled never falls. A village ends at
    88 % to `final_max` of its 应参保 (load.py keeps below 97 %, so that no 100 % warning holds a form).
    """
    rng = random.Random(seed)
    table = []
    for code in codes:
        population = rng.randint(400, 4000)
        should = int(population * rng.uniform(0.84, 0.92))
        hardship_should = int(should * rng.uniform(0.01, 0.06))
        final = rng.uniform(0.88, final_max)
        start = rng.uniform(0.25, 0.45)
        curve = rng.uniform(0.6, 1.6)
        hardship_final = rng.uniform(0.95, 1.0)
        students, newborns = rng.uniform(0.10, 0.20), rng.uniform(0.003, 0.012)
        college = rng.randint(0, 60)
        series = []
        for k in range(1, count + 1):
            x = k / count
            enrolled = int(should * final * (start + (1 - start) * x ** curve))
            hardship = min(int(hardship_should * hardship_final * (0.5 + 0.5 * x)), enrolled)
            series.append((population, should, enrolled, hardship_should, hardship,
                           int(enrolled * students), int(enrolled * newborns), int(college * x)))
        table.append((code, series))
    return table


def fingerprint(root: Path) -> str:
    """A digest of the code under test (names, sizes, mtimes), to notice edits made during a run."""
    digest = hashlib.sha1()
    paths = [root / "app.py"] + [path for folder in ("reporting", "forms", "templates", "migrations")
                                 for path in sorted((root / folder).rglob("*"))]
    for path in paths:
        if path.is_file() and "__pycache__" not in path.parts:
            stat = path.stat()
            digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:12]
