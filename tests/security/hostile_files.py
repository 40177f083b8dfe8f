"""A corpus of hostile upload files, generated on the fly (nothing is stored in the repository).

Every entry is ``HostileFile(case, name, data, content_type)``: content that is no acceptable video,
under names and Content-Types chosen to confuse the server.  Built from the small real videos of
``tests/videoapp/videofiles.py`` so truncations and polyglots start from genuine containers.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from tests.videoapp.videofiles import make_audio_only, make_png, make_video


@dataclass(frozen=True)
class HostileFile:
    case: str
    name: str
    data: bytes
    content_type: str = "video/mp4"


HTML = b"<!doctype html><html><body><script>window.__pwned=1;alert(document.cookie)</script></body></html>\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="window.__pwned=1"><script>window.__pwned=1</script></svg>'
HLS = b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
FFCONCAT = b"ffconcat version 1.0\nfile '/etc/passwd'\nfile 'http://127.0.0.1:6379/'\n"
PHP = b"<?php system($_GET['c']); ?>"
SHELL = b"#!/bin/sh\nrm -rf / --no-preserve-root\n"
JSON = b'{"video": true, "duration": 10}'
ZIP_HEADER = b"PK\x03\x04" + b"\x00" * 26
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 57
UTF16_TEXT = "这不是视频".encode("utf-16")

# Magic numbers of every container the server sniffs, each followed by garbage.
FAKE_MAGIC = {
    "mp4_ftyp": struct.pack(">I", 24) + b"ftypisom\x00\x00\x02\x00isomiso2avc1mp41",
    "mp4_moov_only": struct.pack(">I", 8) + b"moov",
    "mp4_mdat_only": struct.pack(">I", 16) + b"mdat" + b"\x00" * 8,
    "mp4_box_size_zero": struct.pack(">I", 0) + b"ftyp" + b"\xff" * 64,
    "mp4_box_size_huge": struct.pack(">I", 1) + b"ftyp" + struct.pack(">Q", 2**63 - 1),
    "mkv_ebml": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x88matroska",
    "avi_riff": b"RIFF\xff\xff\xff\x7fAVI LIST",
    "flv": b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00",
    "ogg": b"OggS\x00\x02" + b"\x00" * 20,
    "asf": b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c",
    "mpeg_ps": b"\x00\x00\x01\xba\x44\x00\x04\x00\x04\x01",
    "mpegts": b"".join(b"\x47" + bytes(187) for _ in range(4)),
    "m2ts": b"".join(b"\x00\x00\x00\x00\x47" + bytes(187) for _ in range(4)),
}

# Names a client can send; the content is never a valid video, so every one must be refused.
HOSTILE_NAMES = [
    "../../../../etc/passwd",
    "..\\..\\..\\windows\\win.ini",
    "/absolute/path/video.mp4",
    "....//....//video.mp4",
    "video.mp4\x00.html",
    "\x00",
    "clip\u202egpj.exe",
    "\u202emp4.html",
    "\u200b\u200d\ufeffzero-width.mp4",
    "长" * 300 + ".mp4",
    "a" * 300 + ".mp4",
    "x" * 1000,
    "<script>alert(1)</script>.mp4",
    "\"'><img src=x onerror=alert(1)>.mp4",
    "CON.mp4",
    ".htaccess",
    "video.mp4.php",
    "%2e%2e%2fpasswd.mp4",
    "名字 with spaces\tand\nnewlines.mp4",
    "",
]

SPOOFED_TYPES = [
    "video/mp4",
    "video/webm",
    "application/octet-stream",
    "text/html",
    "image/svg+xml",
    "video/mp4; charset=<script>",
    "",
]


def _image_bytes(fmt: str, **save_kwargs) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    frames = [Image.new("RGB", (32, 24), colour) for colour in ("red", "green", "blue")]
    if save_kwargs.pop("animated", False):
        frames[0].save(buffer, format=fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    else:
        frames[0].save(buffer, format=fmt, **save_kwargs)
    return buffer.getvalue()


def _still_image_video(path: Path, *, codec: str, frames: int = 5) -> Path:
    """An image sequence in a real container: every frame a PNG/MJPEG still (codec of pictures)."""
    with av.open(str(path), "w", format="mov") as out:
        stream = out.add_stream(codec, rate=5)
        stream.width, stream.height = 32, 24
        stream.pix_fmt = "rgb24" if codec == "png" else "yuvj420p"
        for index in range(frames):
            image = np.full((24, 32, 3), index * 40, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format=stream.pix_fmt)
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _audio_only(path: Path, *, container: str, codec: str) -> bytes | None:
    try:
        with av.open(str(path), "w", format=container) as out:
            audio = out.add_stream(codec, rate=48000)
            audio.layout = "stereo"
            from tests.videoapp.videofiles import _write_tone

            _write_tone(out, audio, 0.5)
    except Exception:  # an encoder this FFmpeg build lacks: the other audio cases still cover it
        return None
    return path.read_bytes()


def build_corpus(root: Path) -> list[HostileFile]:
    """The whole hostile corpus (well over 100 files)."""
    mp4 = make_video(root / "base.mp4", seconds=1.0).read_bytes()
    mp4_last = make_video(root / "base_last.mp4", seconds=1.0, faststart=False).read_bytes()
    webm = make_video(root / "base.webm", container="webm", video_codec="libvpx", audio_codec="libopus",
                      seconds=1.0).read_bytes()
    png = make_png(root / "p.png").read_bytes()
    corpus: list[HostileFile] = []
    add = corpus.append

    # Pictures with HTML appended (polyglots) and other image formats passed off as videos.
    for label, picture in (("png", png), ("jpeg", _image_bytes("JPEG")), ("gif", _image_bytes("GIF")),
                           ("bmp", _image_bytes("BMP")), ("webp", _image_bytes("WEBP"))):
        add(HostileFile(f"{label}+html", f"{label}.mp4", picture + HTML))
        add(HostileFile(f"{label}+html as html", f"{label}.html", picture + HTML, "text/html"))
        add(HostileFile(f"{label} plain", f"picture.{label}", picture, f"image/{label}"))
    add(HostileFile("html+png", "page.mp4", HTML + png))
    add(HostileFile("png+svg", "image.mp4", png + SVG, "image/svg+xml"))
    # Image sequences: animated GIF/PNG/WebP, concatenated PNGs, stills muxed as a "video" stream.
    add(HostileFile("animated gif", "anim.mp4", _image_bytes("GIF", animated=True)))
    add(HostileFile("apng", "anim.mp4", _image_bytes("PNG", animated=True)))
    add(HostileFile("animated webp", "anim.webm", _image_bytes("WEBP", animated=True), "video/webm"))
    add(HostileFile("png sequence concatenated", "seq.mp4", png * 10))
    add(HostileFile("image2 pattern name", "img%03d.png", png, "image/png"))
    add(HostileFile("png stills in mov", "stills.mov", _still_image_video(root / "stills.mov", codec="png")
                    .read_bytes(), "video/quicktime"))
    # Text and scripts renamed to video names, under every spoofed Content-Type.
    texts = {"text": "这不是视频 just some text\n".encode() * 20, "html": HTML, "svg": SVG, "hls": HLS,
             "ffconcat": FFCONCAT, "php": PHP, "shell": SHELL, "json": JSON, "zip": ZIP_HEADER, "pdf": PDF,
             "elf": ELF, "utf16": UTF16_TEXT}
    for index, (label, data) in enumerate(texts.items()):
        for offset, extension in enumerate((".mp4", ".webm", ".mkv")):
            content_type = SPOOFED_TYPES[(index + offset) % len(SPOOFED_TYPES)]
            add(HostileFile(f"{label} renamed {extension} ({content_type or 'no type'})",
                            f"{label}{extension}", data, content_type))
    # Empty files.
    for name in ("empty.mp4", "empty.webm", "empty", ".mp4"):
        add(HostileFile(f"0 bytes {name}", name, b""))
    add(HostileFile("1 byte", "one.mp4", b"\x00"))
    add(HostileFile("NUL bytes", "zeros.mp4", b"\x00" * 4096))
    add(HostileFile("random bytes", "noise.mp4", np.random.default_rng(7).bytes(50_000)))
    # Container magic followed by garbage.
    for label, header in FAKE_MAGIC.items():
        add(HostileFile(f"fake {label}", f"{label}.mp4", header + b"\xde\xad\xbe\xef" * 64))
        add(HostileFile(f"fake {label} + html", f"{label}.mp4", header + HTML))
    # Truncated genuine files at many cut points.
    for keep in (0.02, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.97):
        add(HostileFile(f"truncated mp4 {keep}", "cut.mp4", mp4[: int(len(mp4) * keep)]))
        add(HostileFile(f"truncated moov-last mp4 {keep}", "cut_last.mp4", mp4_last[: int(len(mp4_last) * keep)]))
    for keep in (0.05, 0.3, 0.5):
        add(HostileFile(f"truncated webm {keep}", "cut.webm", webm[: int(len(webm) * keep)], "video/webm"))
    # Corrupted: the index box of a faststart MP4 overwritten.
    moov = mp4.find(b"moov")
    add(HostileFile("mp4 moov zeroed", "zeroed.mp4", mp4[:moov] + b"\x00" * 400 + mp4[moov + 400:]))
    add(HostileFile("mp4 without moov", "nomoov.mp4", mp4[:moov - 4] + b"\x00\x00\x00\x08free"))
    # Audio only (with a video-looking name).
    add(HostileFile("audio-only m4a", "song.mp4", make_audio_only(root / "a.m4a").read_bytes()))
    for container, codec, extension in (("ogg", "libopus", "ogg"), ("matroska", "libopus", "mkv"),
                                         ("ogg", "libvorbis", "ogv"), ("mp3", "libmp3lame", "mp3"),
                                         ("wav", "pcm_s16le", "wav"), ("flac", "flac", "flac")):
        data = _audio_only(root / f"audio.{extension}", container=container, codec=codec)
        if data is not None:
            add(HostileFile(f"audio-only {container}/{codec}", f"audio.{extension}", data))
    # Hostile names on non-video content (every name must be handled; none accepted).
    for index, name in enumerate(HOSTILE_NAMES):
        add(HostileFile(f"name {name[:30]!r}", name, (HTML, png + HTML, b"", mp4[:500])[index % 4]))
    return corpus
