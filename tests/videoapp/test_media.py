"""The pure PyAV layer: sniffing, probing (and every way a file can be rejected), posters, renditions."""

# Pytest fixtures are imported from tests.videoapp.videofiles and used as test arguments.
# ruff: noqa: F401, F811

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from tests.videoapp.videofiles import make_video, probe_codecs, sample_files
from videoapp.services import media
from videoapp.streaming import Unsatisfiable, parse_range


@pytest.mark.parametrize(
    ("name", "demuxer", "codec"),
    [("h264_mp4", "mov", "h264"), ("vp8_webm", "matroska", "vp8"), ("mpeg4_avi", "avi", "mpeg4")],
)
def test_probe_describes_real_videos(sample_files, name, demuxer, codec):
    result = media.probe_video(path=sample_files[name], max_duration_seconds=60)
    assert (result.demuxer, result.video_codec) == (demuxer, codec)
    assert (result.width, result.height) == (64, 48)
    assert result.duration_seconds == pytest.approx(2.0, abs=0.1)
    assert result.frame_rate == pytest.approx(25)


def test_web_compatibility_and_faststart_detection(sample_files):
    fast = media.probe_video(path=sample_files["h264_mp4"])
    slow = media.probe_video(path=sample_files["h264_mp4_moov_last"])
    webm = media.probe_video(path=sample_files["vp8_webm"])
    assert fast.web_compatible and fast.moov_first is True
    assert slow.web_compatible and slow.moov_first is False
    assert not webm.web_compatible and webm.moov_first is None


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("empty", "empty"),
        ("text", "not_video"),
        ("png", "not_video"),
        ("audio_only", "no_video_stream"),
        ("truncated_mp4", "truncated"),
        ("truncated_moov_last", "damaged"),
        ("truncated_webm", "truncated"),
    ],
)
def test_probe_rejects_what_is_not_a_complete_video(sample_files, name, code):
    with pytest.raises(media.MediaError) as info:
        media.probe_video(path=sample_files[name])
    assert info.value.code == code


def test_probe_rejects_too_long(sample_files):
    with pytest.raises(media.MediaError) as info:
        media.probe_video(path=sample_files["h264_mp4"], max_duration_seconds=1)
    assert info.value.code == "too_long"


def test_sniffing_ignores_the_extension(tmp_path, sample_files):
    disguised = tmp_path / "clip.png"
    disguised.write_bytes(sample_files["vp8_webm"].read_bytes())
    assert media.sniff_container(path=disguised) == "matroska"
    assert media.sniff_container(path=sample_files["text"]) is None


def test_poster_is_a_jpeg_of_the_video_size(tmp_path, sample_files):
    dest = tmp_path / "poster.jpg"
    assert media.extract_poster(path=sample_files["vp8_webm"], dest=dest) == (64, 48)
    with Image.open(dest) as image:
        assert image.format == "JPEG" and image.size == (64, 48)
    assert [p.name for p in tmp_path.iterdir()] == ["poster.jpg"]  # no temporary file left


@pytest.mark.parametrize("name", ["vp8_webm", "mpeg4_avi"])
def test_transcode_gives_h264_aac_mp4_with_index_first(tmp_path, sample_files, name):
    source = sample_files[name]
    dest = tmp_path / "out.mp4"
    mode = media.make_web_playable(path=source, dest=dest, probe=media.probe_video(path=source))
    assert mode == "transcode"
    video, audio, _ = probe_codecs(dest)
    assert video == "h264"
    assert audio == ("aac" if name == "vp8_webm" else None)
    result = media.probe_video(path=dest)
    assert result.web_compatible and result.moov_first
    assert result.duration_seconds == pytest.approx(2.0, abs=0.15)


def test_h264_with_index_last_is_only_remuxed(tmp_path, sample_files):
    source = sample_files["h264_mp4_moov_last"]
    dest = tmp_path / "out.mp4"
    assert media.make_web_playable(path=source, dest=dest, probe=media.probe_video(path=source)) == "remux"
    assert media.mp4_moov_first(path=dest)
    assert abs(dest.stat().st_size - source.stat().st_size) < 1024  # packets copied, not re-encoded


def test_large_frames_are_scaled_to_1080p_with_even_sizes(tmp_path):
    source = make_video(tmp_path / "big.mkv", container="matroska", video_codec="mpeg4", audio_codec=None,
                        seconds=0.2, width=1922, height=1082, fps=10)
    dest = tmp_path / "out.mp4"
    media.make_web_playable(path=source, dest=dest, probe=media.probe_video(path=source), max_height=540)
    result = media.probe_video(path=dest)
    assert result.height == 540 and result.width % 2 == 0 and result.width == 958


def test_seconds_label():
    assert media.seconds_label(None) == ""
    assert media.seconds_label(65.4) == "1:05"
    assert media.seconds_label(3 * 3600) == "3:00:00"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=5-2", None),  # invalid spec: ignored
        ("bytes=0-1,5-6", None),  # several ranges: whole file
        ("items=0-1", None),
        ("", None),
    ],
)
def test_parse_range(header, expected):
    assert parse_range(header, size=1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=-0", "bytes=2000-3000"])
def test_parse_range_unsatisfiable(header):
    with pytest.raises(Unsatisfiable):
        parse_range(header, size=1000)


@given(header=st.text(max_size=40) | st.from_regex(r"bytes=\d{0,5}-\d{0,5}", fullmatch=True),
       size=st.integers(min_value=0, max_value=100_000))
def test_parse_range_never_returns_bytes_outside_the_file(header, size):
    try:
        result = parse_range(header, size=size)
    except Unsatisfiable:
        return
    if result is not None:
        first, last = result
        assert 0 <= first <= last < size
