"""The benchmarks under bench/ still run (they measure; this only keeps them from rotting)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_poll_tick_benchmark_runs_and_prints_its_ratios():
    """bench/poll_tick.py completes one tick each way and prints the full/fragment ratio line."""
    done = subprocess.run([sys.executable, "bench/poll_tick.py", "--ticks", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ratio full / fragment:" in done.stdout
