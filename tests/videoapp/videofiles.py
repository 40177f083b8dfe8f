"""Small real video files generated with PyAV for the upload and processing tests (no fixtures on disk)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def make_video(
    path: Path,
    *,
    container: str = "mp4",
    video_codec: str = "libx264",
    audio_codec: str | None = "aac",
    seconds: float = 2.0,
    width: int = 64,
    height: int = 48,
    fps: int = 25,
    faststart: bool = True,
) -> Path:
    """Encode a moving colour pattern (and a sine tone) into ``path``."""
    options = {"movflags": "+faststart"} if container == "mp4" and faststart else {}
    with av.open(str(path), "w", format=container, options=options) as out:
        video = out.add_stream(video_codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = None
        if audio_codec:
            audio = out.add_stream(audio_codec, rate=48000)
            audio.layout = "stereo"
        for i in range(int(seconds * fps)):
            image = np.zeros((height, width, 3), np.uint8)
            image[:, :, 0] = (i * 9) % 255
            image[:, : (i % width) + 1, 1] = 200
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is not None:
            _write_tone(out, audio, seconds)
    return path


def make_audio_only(path: Path, *, seconds: float = 1.0) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        audio = out.add_stream("aac", rate=48000)
        audio.layout = "stereo"
        _write_tone(out, audio, seconds)
    return path


def _write_tone(out, audio, seconds: float) -> None:
    rate = audio.codec_context.sample_rate
    size = audio.codec_context.frame_size or 1024
    sample_format = audio.codec_context.format.name
    for start in range(0, int(seconds * rate), size):
        wave = (0.2 * np.sin(2 * np.pi * 440 * np.arange(start, start + size) / rate)).astype(np.float32)
        if sample_format.startswith("s16"):
            wave = (wave * 32767).astype(np.int16)
        planes = np.stack([wave, wave]) if sample_format.endswith("p") else np.stack([wave, wave]).T.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(planes, format=sample_format, layout="stereo")
        frame.sample_rate, frame.pts = rate, start
        out.mux(audio.encode(frame))
    out.mux(audio.encode(None))


def make_png(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (64, 48), "red").save(path, format="PNG")
    return path


def truncate(source: Path, dest: Path, *, keep: float = 0.5) -> Path:
    data = source.read_bytes()
    dest.write_bytes(data[: int(len(data) * keep)])
    return dest


def probe_codecs(path: Path) -> tuple[str, str | None, str]:
    """(video codec, audio codec or None, container format name) of a file."""
    with av.open(str(path)) as container:
        video = container.streams.video[0].codec_context.name
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        return video, audio, container.format.name


# --- fixtures shared by the video test modules (imported there by name) ---

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def sample_files(tmp_path_factory) -> dict[str, Path]:
    """Every kind of file the upload tests send, generated once per session."""
    root = tmp_path_factory.mktemp("samples")
    files = {
        "h264_mp4": make_video(root / "h264.mp4"),
        "h264_mp4_moov_last": make_video(root / "moov_last.mp4", faststart=False),
        "vp8_webm": make_video(root / "vp8.webm", container="webm", video_codec="libvpx", audio_codec="libopus"),
        "mpeg4_avi": make_video(root / "mpeg4.avi", container="avi", video_codec="mpeg4", audio_codec=None),
        "audio_only": make_audio_only(root / "audio.m4a"),
        "png": make_png(root / "picture.png"),
    }
    files["text"] = root / "notes.mp4"
    files["text"].write_text("这不是视频 just some text\n" * 20, encoding="utf-8")
    files["empty"] = root / "empty.mp4"
    files["empty"].write_bytes(b"")
    files["truncated_mp4"] = truncate(files["h264_mp4"], root / "truncated.mp4", keep=0.5)
    files["truncated_moov_last"] = truncate(files["h264_mp4_moov_last"], root / "truncated2.mp4", keep=0.5)
    files["truncated_webm"] = truncate(files["vp8_webm"], root / "truncated.webm", keep=0.5)
    return files


@pytest.fixture
def tag_calls(monkeypatch) -> list[int]:
    """Record (instead of running) the tagging app's suggestion task queued by the video services."""
    from videoapp.services import videos as video_services

    calls: list[int] = []
    monkeypatch.setattr(video_services, "video_tags_suggest_queue", lambda *, video_id: calls.append(video_id))
    return calls


def media_files(root: Path) -> list[Path]:
    """Every file stored under the media root's videos/ folder."""
    folder = Path(root) / "videos"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def own_media_root(settings, tmp_path) -> Path:
    """A media root of this test only (the session one is shared with the worker and other tests)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
