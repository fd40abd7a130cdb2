"""What one live-status tick costs: the status-log fragment vs a full-page autorefresh.

This used to measure through AppTest, whose script runner never runs Streamlit's post-run
``gc.collect(2)`` — the dominant cost on a real server — on a small idle workspace, in
back-to-back blocks. It now runs benchmark (a) of ``bench/run.py`` instead: a real
``streamlit run`` server, one Chromium tab watching a job on the max workspace, the
fragment against the real ``streamlit-autorefresh`` every second, interleaved, with the
server's CPU per second, the ratio, the target (≤ 0.2) and the load average.

    python3 bench/poll_tick.py [--quick]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

if __name__ == "__main__":
    run = Path(__file__).resolve().parent / "run.py"
    sys.exit(subprocess.call([sys.executable, str(run), "--only", "a", *sys.argv[1:]]))
