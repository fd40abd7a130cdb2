"""The emulator runs with no ``batchcore`` at all: copied out as its own top-level package, in a fresh interpreter."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import batchcore.emulator
from tests.conftest import fake_key

EMULATOR_DIR = Path(batchcore.emulator.__file__).resolve().parent

# Runs in ``python -I`` (no current directory, no PYTHONPATH, no user site on sys.path). A finder
# placed first on sys.meta_path makes any import of ``batchcore`` fail, even though the product
# may be installed in site-packages: the copy must work without it.
_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from decimal import Decimal

    class RefuseBatchcore:
        def find_spec(self, name, path=None, target=None):
            if name == "batchcore" or name.startswith("batchcore."):
                raise ImportError(f"the standalone emulator imported {name}")
            return None

    sys.meta_path.insert(0, RefuseBatchcore())
    sys.path.insert(0, sys.argv[1])
    key = sys.argv[2]

    import httpx
    from emu_copy import Emulator, EmulatorConfig, EmulatorTransport, IN_PROCESS_BASE_URL
    from emu_copy.__main__ import parse_config

    emu = Emulator(EmulatorConfig(latency_ms=0))
    items = [{"scene_id": s, "prompt": "p " + s, "variants": v} for s, v in (("A", 2), ("B", 3), ("C", 1))]
    with httpx.Client(transport=EmulatorTransport(emu), base_url=IN_PROCESS_BASE_URL,
                      headers={"X-API-Key": key}) as client:
        dry = client.post("/batch/images", json={"items": items, "runMode": "dry_run"})
        billed_after_dry_run = str(emu.ledger.total())
        live = client.post("/batch/images", json={"items": items, "runMode": "live"})
        image = live.json()["results"][0]["images"][0]["signedUrl"]
        picture = client.get(image)
        clip = {"scene_id": "A", "prompt": "push in", "approved_image_url": image, "veo_model": "veo3_fast",
                "aspect": "16:9", "resolution": 720, "duration_s": 8, "fps": 24}
        video = client.post("/batch/videos", json={"items": [clip], "runMode": "live", "confirmCount": 1})
    config, _ = parse_config([], environ={})
    print(json.dumps({
        "dry": [dry.status_code, dry.json()["runMode"]],
        "billed_after_dry_run": billed_after_dry_run,
        "live": [live.status_code, live.json()["accepted"], sum(len(r["images"]) for r in live.json()["results"])],
        "picture": [picture.status_code, picture.content[:4].hex()],
        "video": video.status_code,
        "images_billed": str(emu.ledger.total("images")),
        "videos_billed": str(emu.ledger.total("videos")),
        "cli_profile": config.profile,
        "batchcore_loaded": sorted(m for m in sys.modules if m == "batchcore" or m.startswith("batchcore.")),
    }))
    """
)


def test_copied_emulator_serves_dry_run_and_live_without_batchcore(tmp_path):
    """The emulator's files copied as top-level `emu_copy` answer a dry-run, a live batch and a clip, billing $0.012 and $0.10, with batchcore unimportable."""
    shutil.copytree(EMULATOR_DIR, tmp_path / "emu_copy", ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [sys.executable, "-I", "-c", _SCRIPT, str(tmp_path), fake_key("s")],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {
        "dry": [200, "dry_run"],
        "billed_after_dry_run": "0",
        "live": [200, 3, 6],
        "picture": [200, "89504e47"],
        "video": 200,
        "images_billed": "0.012",
        "videos_billed": "0.10",
        "cli_profile": "head",
        "batchcore_loaded": [],
    }
