"""Probing, poster frames and web-playable renditions with PyAV (FFmpeg bundled in the wheel).

Pure module: no Django import, so it can be tested and reused on its own. Errors are raised as
``MediaError`` with a stable ``code``; the service layer turns codes into translated messages.

Security notes (an upload is untrusted input handed to FFmpeg):
- the container is chosen by sniffing magic bytes, never from the file name or the client's
  Content-Type, and PyAV is told which demuxer to use, so FFmpeg never probes exotic demuxers
  (``hls``, ``concat``, image sequences) that can read other files or URLs;
- resolution and duration are bounded before anything is decoded in bulk.
"""

from __future__ import annotations

import math
import os
import struct
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error

# The FFmpeg demuxer short names this site accepts, keyed by the sniffed family.
SUPPORTED_DEMUXERS = ("mov", "matroska", "avi", "flv", "mpegts", "mpeg", "ogg", "asf")
MAX_WIDTH = 7680
MAX_HEIGHT = 4320
# Codecs of "video" streams that are really still images (a PNG opened as a one-frame video).
STILL_IMAGE_CODECS = {"png", "apng", "bmp", "gif", "webp", "tiff", "jpeg2000", "jpegls", "qoi", "ppm", "pam"}
# What every current browser plays in a <video> element without plug-ins.
WEB_VIDEO_CODECS = {"h264"}
WEB_AUDIO_CODECS = {"aac", "mp3"}
WEB_PIXEL_FORMATS = {"yuv420p", "yuvj420p"}
_MP4_TOP_LEVEL_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot", b"uuid"}


class MediaError(Exception):
    """A file that cannot be accepted or processed; ``code`` is stable, ``detail`` is for logs."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class ProbeResult:
    demuxer: str
    size_bytes: int
    duration_seconds: float
    width: int
    height: int
    video_codec: str
    pixel_format: str | None
    audio_codec: str | None
    frame_rate: float | None
    moov_first: bool | None  # MP4 only: True when the index precedes the data ("faststart")

    @property
    def web_compatible(self) -> bool:
        """H.264 (4:2:0) with AAC/MP3 or no audio, in an MP4 container: a browser plays it as is."""
        return (
            self.demuxer == "mov"
            and self.video_codec in WEB_VIDEO_CODECS
            and (self.pixel_format in WEB_PIXEL_FORMATS)
            and (self.audio_codec is None or self.audio_codec in WEB_AUDIO_CODECS)
        )

    @property
    def extension(self) -> str:
        return {
            "mov": ".mp4", "matroska": ".mkv", "avi": ".avi", "flv": ".flv", "mpegts": ".ts",
            "mpeg": ".mpg", "ogg": ".ogv", "asf": ".wmv",
        }[self.demuxer]


def sniff_container(*, path: str | os.PathLike) -> str | None:
    """The FFmpeg demuxer for the file's magic bytes, or None when it is no supported container."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if len(head) >= 8 and head[4:8] in _MP4_TOP_LEVEL_BOXES:
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
        return "avi"
    if head.startswith(b"FLV\x01"):
        return "flv"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "asf"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "mpeg"
    # MPEG-TS: a sync byte every 188 bytes (192 for M2TS with its 4-byte timecode prefix).
    for packet, offset in ((188, 0), (192, 4)):
        if len(head) >= offset + 2 * packet + 1 and all(head[offset + i * packet] == 0x47 for i in range(3)):
            return "mpegts"
    return None


def _mp4_boxes(path: str | os.PathLike):
    """Walk an MP4's top-level boxes: yields ``(box type, offset, size, file size, size-is-to-the-end)``.

    A box of size 0 runs to the end of the file; a size of 1 means a 64-bit size follows the header.
    """
    with open(path, "rb") as fh:
        size_total = os.fstat(fh.fileno()).st_size
        offset = 0
        while offset + 8 <= size_total:
            fh.seek(offset)
            header = fh.read(16)
            size, box = struct.unpack(">I4s", header[:8])
            to_end = size == 0
            if size == 1 and len(header) >= 16:
                size = struct.unpack(">Q", header[8:16])[0]
            elif to_end:
                size = size_total - offset
            yield box, offset, size, size_total, to_end
            if size < 8:
                return
            offset += size


def mp4_moov_first(*, path: str | os.PathLike) -> bool:
    """True when the ``moov`` index box comes before ``mdat`` (the file can start playing at once)."""
    for box, _offset, size, _total, _to_end in _mp4_boxes(path):
        if box == b"moov":
            return True
        if box == b"mdat" or size < 8:
            return False
    return False


def mp4_data_cut_off(*, path: str | os.PathLike) -> bool:
    """True when an MP4's ``moov`` or ``mdat`` box claims more bytes than the file holds (a cut-off upload).

    The duration check in :func:`probe_video` has a tolerance of half a second, which lets a short clip
    cut in half through; the box sizes are exact.  Unknown data after the last box (trailing junk) is
    not counted: only the two boxes a player needs.
    """
    for box, offset, size, size_total, to_end in _mp4_boxes(path):
        if to_end:
            return False  # "to the end of the file": nothing to compare against
        if box not in _MP4_TOP_LEVEL_BOXES or size < 8:
            return False
        if box in (b"moov", b"mdat") and offset + size > size_total:
            return True
    return False


def _open(path: str | os.PathLike, demuxer: str) -> av.container.InputContainer:
    try:
        return av.open(str(path), format=demuxer, metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise MediaError("damaged", str(exc)) from exc


def _video_stream(container):
    for stream in container.streams.video:
        disposition = stream.disposition
        # Cover art in an audio file is a "video" stream of one picture.
        if disposition & (av.stream.Disposition.attached_pic | av.stream.Disposition.still_image):
            continue
        # A cut-off index can leave a stream whose codec FFmpeg cannot even name.
        if stream.codec_context is None or stream.codec_context.name in STILL_IMAGE_CODECS:
            continue
        return stream
    return None


def _stream_seconds(stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def probe_video(*, path: str | os.PathLike, max_duration_seconds: float | None = None) -> ProbeResult:
    """Check that ``path`` is a complete, decodable video and describe it.

    Raises MediaError with code ``empty``, ``not_video``, ``damaged``, ``no_video_stream``,
    ``too_large_resolution``, ``too_long``, ``truncated`` or ``undecodable``.
    """
    size = os.path.getsize(path)
    if size == 0:
        raise MediaError("empty")
    demuxer = sniff_container(path=path)
    if demuxer is None:
        raise MediaError("not_video", "unknown magic bytes")
    with _open(path, demuxer) as container:
        stream = _video_stream(container)
        if stream is None:
            raise MediaError("no_video_stream")
        ctx = stream.codec_context
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        if width > MAX_WIDTH or height > MAX_HEIGHT:
            raise MediaError("too_large_resolution", f"{width}x{height}")
        audio = next(iter(container.streams.audio), None)
        declared = _stream_seconds(stream) or (container.duration / av.time_base if container.duration else None)
        if declared is not None and max_duration_seconds is not None and declared > max_duration_seconds:
            raise MediaError("too_long", f"{declared:.1f}s")
        frame = _first_frame(container, stream)
        width, height = width or frame.width, height or frame.height
        if not width or not height:
            raise MediaError("undecodable", "no picture size")
        pixel_format = ctx.pix_fmt or (frame.format.name if frame.format else None)
        last_end = _scan_tail(container, stream, declared)
        duration = declared if declared is not None else last_end
        if max_duration_seconds is not None and duration > max_duration_seconds:
            raise MediaError("too_long", f"{duration:.1f}s")
        # A complete file has packets up to (about) its declared end; a cut-off one stops early.
        if declared is not None and last_end < declared - max(0.5, 0.02 * declared):
            raise MediaError("truncated", f"data ends at {last_end:.2f}s of {declared:.2f}s")
        if demuxer == "mov" and mp4_data_cut_off(path=path):
            raise MediaError("truncated", "a box runs past the end of the file")
        rate = stream.average_rate or stream.guessed_rate
        return ProbeResult(
            demuxer=demuxer,
            size_bytes=size,
            duration_seconds=round(float(duration), 3),
            width=int(width),
            height=int(height),
            video_codec=ctx.name,
            pixel_format=pixel_format,
            audio_codec=audio.codec_context.name if audio is not None else None,
            frame_rate=float(rate) if rate else None,
            moov_first=mp4_moov_first(path=path) if demuxer == "mov" else None,
        )


def _first_frame(container, stream):
    """Decode until the first picture; a file whose first packets do not decode is rejected."""
    packets = 0
    try:
        for packet in container.demux(stream):
            packets += 1
            try:
                for frame in packet.decode():
                    return frame
            except av.error.InvalidDataError:
                pass  # a broken packet near the start can be followed by good ones
            if packets > 300:
                break
    except av.error.FFmpegError as exc:
        raise MediaError("undecodable", str(exc)) from exc
    raise MediaError("undecodable" if packets else "truncated", f"{packets} packets, no frame")


def _scan_tail(container, stream, declared: float | None) -> float:
    """The end time (seconds) of the last video packet, reading only the tail when the length is known."""
    time_base = stream.time_base
    if declared is not None and declared > 1.0:
        target = int((declared * 0.9) / time_base) + (stream.start_time or 0)
        try:
            container.seek(target, stream=stream, backward=True, any_frame=False)
        except av.error.FFmpegError:
            container.seek(0, stream=stream)
    else:
        try:  # unknown or short length: read every packet from the start
            container.seek(0, stream=stream)
        except av.error.FFmpegError:
            pass  # not seekable: carry on from after the first frame; the maximum is what counts
    start = float(stream.start_time * time_base) if stream.start_time else 0.0
    last_end = 0.0
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.pts is None and packet.dts is None:
                continue
            stamp = packet.pts if packet.pts is not None else packet.dts
            end = float((stamp + (packet.duration or 0)) * time_base) - start
            last_end = max(last_end, end)
    except av.error.FFmpegError:
        pass  # a read error at the tail is what truncation looks like; the comparison decides
    return last_end


def extract_poster(*, path: str | os.PathLike, dest: str | os.PathLike, max_width: int = 1280) -> tuple[int, int]:
    """Write a JPEG poster from a frame at ~10 % of the video (at most 3 s in); returns its size."""
    demuxer = sniff_container(path=path)
    if demuxer is None:
        raise MediaError("not_video")
    with _open(path, demuxer) as container:
        stream = _video_stream(container)
        if stream is None:
            raise MediaError("no_video_stream")
        seconds = _stream_seconds(stream) or (container.duration / av.time_base if container.duration else 0)
        at = min(3.0, seconds * 0.1)
        frame = None
        if at > 0:
            try:
                container.seek(int(at / stream.time_base) + (stream.start_time or 0), stream=stream, backward=True)
            except av.error.FFmpegError:
                container.seek(0, stream=stream)
        for candidate in _decode_frames(container, stream, limit=400):
            frame = candidate
            if candidate.time is None or candidate.time >= at:
                break
        if frame is None:
            raise MediaError("undecodable", "no frame for the poster")
        image = frame.to_image()
    if image.width > max_width:
        image = image.resize((max_width, max(2, round(image.height * max_width / image.width))))
    tmp = _temporary_sibling(dest)
    try:
        image.convert("RGB").save(tmp, format="JPEG", quality=85, optimize=True)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return image.width, image.height


def _temporary_sibling(dest: str | os.PathLike) -> Path:
    """A unique name next to ``dest``: two runs at once never write the same file, and os.replace is atomic."""
    dest = Path(dest)
    return dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.part")


def _decode_frames(container, stream, *, limit: int):
    count = 0
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:
            continue
        for frame in frames:
            yield frame
            count += 1
            if count >= limit:
                return


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def make_web_playable(
    *, path: str | os.PathLike, dest: str | os.PathLike, probe: ProbeResult, max_height: int = 1080, crf: int = 23
) -> str:
    """Write an H.264/AAC MP4 with the index first (``movflags=faststart``) to ``dest``.

    An MP4 that is already H.264/AAC is only remuxed (packets copied) when its index is at the
    end; otherwise everything is re-encoded. The output is written next to ``dest`` and moved into
    place at the end, so a reader never sees half a file. Returns ``"remux"`` or ``"transcode"``.
    """
    tmp = _temporary_sibling(dest)
    try:
        if probe.web_compatible:
            _remux(path=path, dest=tmp, demuxer=probe.demuxer)
            mode = "remux"
        else:
            _transcode(path=path, dest=tmp, probe=probe, max_height=max_height, crf=crf)
            mode = "transcode"
        os.replace(tmp, dest)
    except av.error.FFmpegError as exc:
        raise MediaError("transcode_failed", str(exc)) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return mode


def _remux(*, path, dest, demuxer: str) -> None:
    with _open(path, demuxer) as source, av.open(
        str(dest), "w", format="mp4", options={"movflags": "+faststart"}
    ) as target:
        video = _video_stream(source)
        audio = next(iter(source.streams.audio), None)
        mapping = {video.index: target.add_stream_from_template(video)}
        if audio is not None:
            mapping[audio.index] = target.add_stream_from_template(audio)
        for packet in source.demux(*[s for s in (video, audio) if s is not None]):
            if packet.dts is None:
                continue
            packet.stream = mapping[packet.stream.index]
            target.mux(packet)


def _transcode(*, path, dest, probe: ProbeResult, max_height: int, crf: int) -> None:
    scale = min(1.0, max_height / probe.height) if probe.height else 1.0
    width, height = _even(probe.width * scale), _even(probe.height * scale)
    with _open(path, probe.demuxer) as source, av.open(
        str(dest), "w", format="mp4", options={"movflags": "+faststart"}
    ) as target:
        in_video = _video_stream(source)
        in_audio = next(iter(source.streams.audio), None)
        rate = in_video.average_rate or in_video.guessed_rate or Fraction(25)
        if rate > 120 or rate <= 0:
            rate = Fraction(30)
        out_video = target.add_stream(
            "libx264", rate=rate, options={"crf": str(crf), "preset": "veryfast", "profile": "high"}
        )
        out_video.width, out_video.height, out_video.pix_fmt = width, height, "yuv420p"
        out_video.time_base = in_video.time_base
        out_video.codec_context.time_base = in_video.time_base
        out_audio = None
        if in_audio is not None:
            rate_hz = in_audio.codec_context.sample_rate or 48000
            out_audio = target.add_stream("aac", rate=rate_hz if rate_hz in (44100, 48000) else 48000)
            out_audio.layout = "stereo"
            out_audio.bit_rate = 128_000
        last_video_pts = None
        streams = [s for s in (in_video, in_audio) if s is not None]
        for packet in source.demux(*streams):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                continue  # one damaged packet should not lose the whole video
            for frame in frames:
                if packet.stream.type == "video":
                    # Drop frames whose time goes backwards: the muxer needs strictly increasing pts.
                    if frame.pts is not None and last_video_pts is not None and frame.pts <= last_video_pts:
                        continue
                    last_video_pts = frame.pts
                    out = frame.reformat(width=width, height=height, format="yuv420p")
                    out.pts, out.time_base = frame.pts, in_video.time_base
                    target.mux(out_video.encode(out))
                else:
                    frame.pts = None  # the encoder numbers audio samples itself after resampling
                    target.mux(out_audio.encode(frame))
        target.mux(out_video.encode(None))
        if out_audio is not None:
            target.mux(out_audio.encode(None))


def seconds_label(value: float | None) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a duration; empty when unknown."""
    if value is None or not math.isfinite(value):
        return ""
    total = int(round(value))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
