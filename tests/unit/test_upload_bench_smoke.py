"""bench/upload_check.py still runs (it measures; this only keeps it from rotting, with small files and no timing assertion)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_upload_check_benchmark_runs_and_prints_its_ratios():
    """bench/upload_check.py --small prints a before/after ratio line for the check and the preview of each file."""
    done = subprocess.run([sys.executable, "bench/upload_check.py", "--small", "--reps", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("ratio before/after:") == 4
