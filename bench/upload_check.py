"""What checking a reference image (and drawing its chip preview) costs, before and after.

"before" is the check as it was up to commit 6727599 (``batchcore/adapters/uploads.py``): open, verify,
open again, decode every pixel, copy the whole image, convert and shrink it for the thumbnail;
the chip preview converted the whole image to RGBA before shrinking it. It is reproduced below
line for line. "after" is ``batchcore.adapters.uploads.check_references`` / ``square_preview`` today:
sizes from the header first, a JPEG decoded at reduced scale (``Image.draft``), a PNG decoded
once and shrunk by ``reduce()``.

Three files, generated here (nothing is downloaded):

* a 24 MP (6000 × 4000) JPEG of about 9 MB: smooth noise plus grain, quality 92;
* a 9,400 × 9,400 flat PNG of about 280 KB (the issue's decompression-bomb example), now
  refused from its header;
* a 6,000 × 6,000 flat PNG (36 MP, accepted): a PNG has no reduced-scale decoding, so this
  is the worst case a check still decodes.

``--small`` uses a 2 MP JPEG and a 4 MP PNG instead (a smoke run, seconds).

Each measurement runs in a fresh Python process, so the peak resident memory it reports
(the peak RSS during the first run minus the RSS just before it, the file already in memory;
read from ``/proc/self/status`` after resetting the peak) is that step's own;
Pillow's pixel buffers are C allocations that ``tracemalloc`` cannot see, so RSS is the honest
measure. Time is the median of ``--reps`` runs in that process.

    python3 bench/upload_check.py [--reps 5]

Numbers vary with the machine; the ratios are what to compare. No assertion here: this is a
measurement, not a test.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# ----------------------------------------------------------------------------- before (6727599)


def _before_check(data: bytes) -> tuple[str, int, int, bytes]:
    """``_inspect`` + ``_make_thumbnail`` as of 6727599 (default max_pixels = Pillow's limit)."""
    from PIL import Image

    max_pixels = Image.MAX_IMAGE_PIXELS or 89_478_485
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = (im.format or "").upper()
            width, height = im.size
            if width * height > max_pixels:
                return "refused", width, height, b""
            im.verify()
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            thumb = im.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "refused", 0, 0, b""
    if thumb.mode not in ("RGB", "RGBA", "L", "LA"):
        thumb = thumb.convert("RGBA" if "transparency" in thumb.info or thumb.mode in ("P", "PA") else "RGB")
    thumb.thumbnail((96, 96))
    out = io.BytesIO()
    thumb.save(out, format="PNG", optimize=True)
    return fmt, width, height, out.getvalue()


def _before_preview(data: bytes, px: int = 96) -> bytes:
    """``square_preview`` as of 6727599."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            im = im.convert("RGBA")
            im.thumbnail((px, px))
            canvas = Image.new("RGBA", (px, px), (0, 0, 0, 0))
            canvas.paste(im, ((px - im.width) // 2, (px - im.height) // 2))
    except (OSError, ValueError, Image.DecompressionBombError):
        return b""
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _after_check(data: bytes):
    from batchcore.adapters.uploads import check_references

    return check_references([("bench", data)])


def _after_preview(data: bytes) -> bytes:
    from batchcore.adapters.uploads import square_preview

    return square_preview(data, 96)


STEPS = {
    ("check", "before"): _before_check,
    ("check", "after"): _after_check,
    ("preview", "before"): _before_preview,
    ("preview", "after"): _after_preview,
}


# ----------------------------------------------------------------------------- files


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def flat_png(width: int, height: int) -> bytes:
    """A valid grey RGB PNG, compressed row by row (no pixel buffer is ever built)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    comp = zlib.compressobj(9)
    row = b"\x00" + b"\x80" * (width * 3)
    idat = b"".join([comp.compress(row) for _ in range(height)] + [comp.flush()])
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def photo_jpeg(width: int = 6000, height: int = 4000, quality: int = 92, seed: int = 1) -> bytes:
    """A photo-like JPEG: smooth colour noise upscaled, plus grain (about 9 MB at 24 MP).

    Another ``seed`` gives another picture (``bench/uploads.py`` needs six distinct files)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = Image.fromarray(rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8))
    smooth = np.asarray(base.resize((width, height), Image.Resampling.BICUBIC)).astype(np.int16)
    grain = rng.integers(-6, 7, (height, width, 3), dtype=np.int16)
    im = Image.fromarray(np.clip(smooth + grain, 0, 255).astype(np.uint8))
    out = io.BytesIO()
    im.save(out, format="JPEG", quality=quality)
    return out.getvalue()


# ----------------------------------------------------------------------------- measuring


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux: ``echo 5 > /proc/self/clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _child(step: str, variant: str, path: str, reps: int) -> None:
    data = Path(path).read_bytes()
    fn = STEPS[(step, variant)]
    import PIL.Image

    import batchcore.adapters.uploads  # noqa: F401  (imported before the baseline, so it does not count)

    tiny = io.BytesIO()
    PIL.Image.new("RGB", (8, 8)).save(tiny, format="JPEG" if path.endswith(".jpg") else "PNG")
    fn(tiny.getvalue())  # warm the code paths (imports inside Pillow) on a tiny image of the same kind
    if _reset_peak() and _status_kb("VmHWM") is not None:
        base = _status_kb("VmRSS") or 0
        fn(data)
        peak_kb = (_status_kb("VmHWM") or 0) - base
    else:  # no /proc: ru_maxrss, which a fresh process may inherit from its parent's peak
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fn(data)
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn(data)
        times.append(time.perf_counter() - start)
    print(json.dumps({"rss_mb": max(0, peak_kb) / 1024, "ms": statistics.median(times) * 1000,
                      "spread_ms": (max(times) - min(times)) * 1000}))


def _measure(step: str, variant: str, path: Path, reps: int) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", step, variant, str(path), str(reps)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ratio(old: float, new: float, floor: float) -> str:
    if new < floor:
        return f"> {old / floor:,.0f}x"
    return f"{old / new:,.1f}x"


FULL = {
    "24 MP JPEG": ("photo.jpg", photo_jpeg),
    "9,400² PNG (88 MP, over the limit)": ("bomb.png", lambda: flat_png(9400, 9400)),
    "6,000² PNG (36 MP, under the limit)": ("flat.png", lambda: flat_png(6000, 6000)),
}
SMALL = {
    "2 MP JPEG": ("photo.jpg", lambda: photo_jpeg(1600, 1200)),
    "2,000² PNG": ("flat.png", lambda: flat_png(2000, 2000)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--small", action="store_true", help="small files, for a quick smoke run")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--make", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        step, variant, path, reps = args.child
        _child(step, variant, path, int(reps))
        return
    if args.make:
        label, path = args.make
        Path(path).write_bytes({**FULL, **SMALL}[label][1]())
        return

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f}; {args.reps} reps per step")
    with tempfile.TemporaryDirectory() as tmp:
        for label, (name, _make) in (SMALL if args.small else FULL).items():
            path = Path(tmp) / name
            # made in a child process: a fresh process can inherit its parent's peak RSS
            subprocess.run([sys.executable, __file__, "--make", label, str(path)], check=True, cwd=ROOT)
            print(f"\n{label}: {path.stat().st_size / 1e6:.2f} MB on disk")
            for step in ("check", "preview"):
                old = _measure(step, "before", path, args.reps)
                new = _measure(step, "after", path, args.reps)
                print(
                    f"  {step:<8} before {old['ms']:8.1f} ms {old['rss_mb']:7.1f} MB peak RSS | "
                    f"after {new['ms']:7.1f} ms {new['rss_mb']:6.1f} MB | "
                    f"ratio before/after: time {_ratio(old['ms'], new['ms'], 1.0)}, "
                    f"memory {_ratio(old['rss_mb'], new['rss_mb'], 1.0)}"
                )


if __name__ == "__main__":
    main()
