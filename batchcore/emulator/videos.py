"""Real video clips for the emulator, made with PyAV: a slow zoom-and-pan over a still image.

H.264 in MP4 (``libx264``, ``yuv420p``, ``+faststart``) plays in every browser; if the
installed PyAV wheel had no H.264 encoder, VP9 in WebM is used instead.
"""

from __future__ import annotations

import io
import os
import tempfile
from functools import lru_cache

import av
from PIL import Image, ImageOps

__all__ = ["render_video", "video_format"]


def _can_encode(codec: str) -> bool:
    try:
        av.codec.Codec(codec, "w")
    except Exception:  # noqa: BLE001 - codec missing from this wheel
        return False
    return True


@lru_cache(maxsize=1)
def _codec() -> tuple[str, str, str]:
    """(codec, container format, mime type) the installed PyAV can encode."""
    for codec, fmt, mime in (("libx264", "mp4", "video/mp4"), ("libvpx-vp9", "webm", "video/webm")):
        if _can_encode(codec):
            return codec, fmt, mime
    return "mpeg4", "mp4", "video/mp4"


def video_format() -> tuple[str, str]:
    """(file extension, mime type) of the clips this machine makes."""
    _, fmt, mime = _codec()
    return fmt, mime


def render_video(
    still: bytes,
    *,
    size: tuple[int, int] = (640, 360),
    seconds: float = 2.0,
    fps: int = 24,
) -> bytes:
    """An encoded clip of ``seconds`` at ``fps``: a slow zoom from 100% to 115% that drifts
    across ``still`` (PNG/JPEG bytes), sized ``size`` (width, height; both made even)."""
    width, height = (size[0] // 2) * 2, (size[1] // 2) * 2
    with Image.open(io.BytesIO(still)) as src:
        zoom_max = 1.15
        base = ImageOps.fit(
            src.convert("RGB"),
            (round(width * zoom_max), round(height * zoom_max)),
            method=Image.Resampling.LANCZOS,
        )
    codec, fmt, _ = _codec()
    # +faststart rewrites the file to put the index first (browsers start playing sooner);
    # it needs a real file, so encode to a temporary one and read it back.
    fd, path = tempfile.mkstemp(suffix="." + fmt, prefix="emu_clip_")
    os.close(fd)
    try:
        _encode(base, path, codec, fmt, width, height, seconds, fps, zoom_max)
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        os.unlink(path)


def _encode(
    base: Image.Image,
    path: str,
    codec: str,
    fmt: str,
    width: int,
    height: int,
    seconds: float,
    fps: int,
    zoom_max: float,
) -> None:
    options = {"movflags": "+faststart"} if fmt == "mp4" else {}
    with av.open(path, mode="w", format=fmt, options=options) as container:
        stream = container.add_stream(codec, rate=fps)
        assert isinstance(stream, av.video.stream.VideoStream)  # a video codec gives a video stream
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "veryfast", "crf": "28"}
        frames = max(1, round(seconds * fps))
        for i in range(frames):
            t = i / max(1, frames - 1)
            zoom = zoom_max - (zoom_max - 1.0) * t * 0.8  # start close, pull back slowly
            cw, ch = base.width / zoom, base.height / zoom
            left = (base.width - cw) * t  # drift left to right
            top = (base.height - ch) / 2
            crop = base.crop((round(left), round(top), round(left + cw), round(top + ch)))
            frame = av.VideoFrame.from_image(crop.resize((width, height), Image.Resampling.BILINEAR))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
