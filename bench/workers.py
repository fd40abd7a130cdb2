"""Many people confirming paid work at once: how long until each call is sent, by pool size.

    python3 bench/workers.py [--users 20] [--latency-ms 150]

Mock mode, in process (services ↔ the built-in emulator, SQLite in a temporary dir): each
"user" has a workspace with the max batch (10 rows × 3 variants) dry-run; all confirm at
the same moment. Reported per pool size (the old 4 workers, today's 32): the wait from
Confirm until a worker takes the call (p50 / max), the time until every batch finished, and
how many calls were shown as queued (``services.queued_work``) right after Confirm — a
queued call is said so on the page, and nothing of it is sent until it starts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batchcore.adapters.jobs import JobRunner  # noqa: E402
from batchcore.bootstrap import build  # noqa: E402
from batchcore.config import load_settings  # noqa: E402
from batchcore.domain.rows import parse_batch  # noqa: E402
from batchcore.domain.workflow import Inputs, current_hash, in_flight  # noqa: E402
from batchcore.service_layer import services  # noqa: E402
from bench.common import loadavg  # noqa: E402
from bench.seed import BATCH  # noqa: E402


def one_size(workers: int, users: int, latency_ms: int, tmp: Path) -> dict:
    rt = build(load_settings({"MOCK_LATENCY_MS": str(latency_ms), "POLL_SECONDS": "0.05",
                              "DATABASE_URL": f"sqlite:///{tmp}/q{workers}.sqlite3",
                              "DAILY_SPEND_CAP": "1000"}),
               runner=JobRunner(max_workers=workers))
    spaces = []
    for _ in range(users):
        ws = services.new_workspace(rt).ws
        ws = services.update_inputs(rt, ws, Inputs(mode="batch", batch_text=BATCH,
                                                   parsed_text=BATCH), parse_batch(BATCH)).ws
        spaces.append(services.dry_run(rt, ws).ws)
    t0 = time.monotonic()
    confirmed = [services.confirm_images(rt, ws, current_hash(ws.state)).ws for ws in spaces]
    queued = sum(1 for ws in confirmed if services.queued_work(rt, ws))
    while any(in_flight(services.sync(rt, ws).ws.state) for ws in confirmed):
        time.sleep(0.05)
    finished = time.monotonic() - t0
    waits = []
    for ws in confirmed:
        job = rt.runner.get(services.job_key(ws.id, current_hash(ws.state)))
        if job is not None and job.begun is not None:
            waits.append(job.begun - job.started)
    rt.runner.shutdown()
    if rt.store is not None:
        rt.store.close()
    return {"workers": workers, "p50": statistics.median(waits), "max": max(waits),
            "finished": finished, "queued": queued}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=150)
    args = parser.parse_args()
    print(f"# bench/workers.py --users {args.users} --latency-ms {args.latency_ms}; "
          f"load average {loadavg()}")
    print("| pool | wait Confirm → sent, p50 | max | all finished | shown as queued |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (4, 32):
            r = one_size(workers, args.users, args.latency_ms, Path(tmp))
            print(f"| {r['workers']} workers | {r['p50']:.2f} s | {r['max']:.2f} s | "
                  f"{r['finished']:.1f} s | {r['queued']} of {args.users} |")
    print(f"load average at end {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
