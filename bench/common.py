"""What bench/run.py, bench/workers.py and bench/load.py share. Standard library only: run.py
imports it and must hold no data of its own (see run.py)."""
from __future__ import annotations

import hashlib
import random
from pathlib import Path


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
