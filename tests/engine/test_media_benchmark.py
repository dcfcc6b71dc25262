"""The face-stage benchmark runs end to end and writes its figures (a smoke test, not a timing)."""

import json

from cffd_engine.media import benchmark


def test_benchmark_measures_every_stage_and_writes_json(portrait_video, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert benchmark.main(["--video", str(portrait_video), "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["frames"] == 20 and figures["faces"] == 20 and figures["fps"] > 0
    assert set(figures["shares"]) == {"decode", "detect", "track", "crop"}
    assert abs(sum(figures["shares"].values()) - 1) < 0.01
    assert "frames/s" in capsys.readouterr().out


def test_generated_clip_is_720p_h264_with_a_face(tmp_path):
    clip = benchmark.make_benchmark_video(tmp_path / "c.mp4", benchmark.default_face(), frames=6)
    result = benchmark.benchmark_face_stage(clip)
    assert (result.width, result.height, result.codec, result.frames) == (1280, 720, "h264", 6)
    assert result.faces == 6
