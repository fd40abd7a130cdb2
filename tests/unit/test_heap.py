"""batchcore.adapters.heap: large freed buffers go back to the system (glibc)."""

from __future__ import annotations

import ctypes.util
import json
import subprocess
import sys

import pytest

from batchcore.adapters import heap

_CHILD = r"""
import json, sys
from batchcore.adapters import heap

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

tuned = sys.argv[1] == "on" and heap.large_buffers_to_os()
warm = [bytes(9 * 2**20) for _ in range(2)]  # a first 9 MB free raises glibc's dynamic threshold
del warm
base = rss_mb()
kept = []
for _ in range(3):  # three uploads' worth of 9 MB copies, made and freed
    held = [bytearray(9 * 2**20) for _ in range(6)]
    for b in held:
        b[::4096] = b"\x01" * len(b[::4096])  # touch every page
    kept.append(bytearray(200 * 1024))  # something small that stays (a thumbnail, a log line)
    del held, b
print(json.dumps({"tuned": bool(tuned), "kept": rss_mb() - base}))
"""


def _kept(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _CHILD, mode], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout)


glibc = pytest.mark.skipif(not sys.platform.startswith("linux") or heap._libc() is None,
                           reason="mallopt/malloc_trim are glibc's")


@glibc
def test_freed_large_buffers_are_returned_to_the_system():
    """With the threshold set, six 9 MB buffers made and freed three times leave RSS where it was."""
    out = _kept("on")
    assert out["tuned"] is True
    assert out["kept"] < 4


@glibc
def test_without_it_glibc_keeps_them():
    """The problem it solves: glibc serves 9 MB buffers from its heap, and a small object kept above them pins them."""
    assert _kept("off")["kept"] > 27


@glibc
def test_trim_and_the_setting_are_accepted_and_idempotent():
    """trim() runs; setting the threshold again answers what the first call did."""
    assert heap.trim() in (True, False)
    first = heap.large_buffers_to_os()
    assert heap.large_buffers_to_os() is first is True


def test_no_glibc_means_nothing_to_tune(monkeypatch):
    """Where the C library has no mallopt (musl, macOS), both say False and change nothing."""
    monkeypatch.setattr(heap, "_libc", lambda: None)
    monkeypatch.setattr(heap, "_done", {})
    assert heap.large_buffers_to_os(2 * 1024 * 1024) is False
    assert heap.trim() is False


def test_the_c_library_is_found_here():
    """On this machine (Linux, glibc) the library is found by name."""
    assert ctypes.util.find_library("c") is not None or not sys.platform.startswith("linux")
