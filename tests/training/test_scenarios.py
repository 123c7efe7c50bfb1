"""Scenario clips: the video decodes, and the timeline matches the script and the frames."""

from __future__ import annotations

import time
from pathlib import Path

import av
import pytest

from training.scenes.classes import CLASSES
from training.scenes.scenarios import SCENARIOS, ScenarioTruth, render_scenario

SECONDS = 6.0
FPS = 5
SIZE = (320, 180)


def _render(tmp_path: Path, name: str, seed: int = 1) -> tuple[Path, ScenarioTruth]:
    out = tmp_path / f"{name}.mp4"
    truth = render_scenario(name, out, seconds=SECONDS, seed=seed, fps=FPS, size=SIZE)
    return out, truth


@pytest.mark.parametrize("name", SCENARIOS)
def test_video_and_timeline_agree(tmp_path: Path, name: str) -> None:
    out, truth = _render(tmp_path, name)
    assert truth.frame_count == round(SECONDS * FPS)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = list(container.decode(video=0))
    assert len(frames) == truth.frame_count
    assert (frames[0].width, frames[0].height) == SIZE
    on_disk = ScenarioTruth.model_validate_json(ScenarioTruth.timeline_path(out).read_text())
    assert on_disk == truth
    assert truth.classes == list(CLASSES)
    # every object's appear/disappear/visible_frames follow from the per-frame boxes
    for obj in truth.objects:
        idx = [f.index for f in truth.frames if any(b.id == obj.id for b in f.boxes)]
        assert len(idx) == obj.visible_frames
        assert obj.appear_s == pytest.approx(idx[0] / FPS)
        if obj.disappear_s is None:
            assert idx[-1] == truth.frame_count - 1
        else:
            assert obj.disappear_s == pytest.approx((idx[-1] + 1) / FPS)
        assert CLASSES[obj.class_id] == obj.class_name
    for frame in truth.frames:
        for box in frame.boxes:
            x0, y0, x1, y1 = box.xyxy
            assert 0 <= x0 < x1 <= SIZE[0] and 0 <= y0 < y1 <= SIZE[1]


def test_stall_setup_stall_appears_early_and_stays(tmp_path: Path) -> None:
    _, truth = _render(tmp_path, "stall_setup")
    stalls = truth.objects_of("stall")
    assert len(stalls) == 1
    assert 0.1 * SECONDS <= stalls[0].appear_s <= 0.25 * SECONDS
    assert stalls[0].disappear_s is None


def test_goods_spill_in_three_steps(tmp_path: Path) -> None:
    _, truth = _render(tmp_path, "goods_spill")
    goods = truth.objects_of("goods")
    assert len(goods) == 3
    appear = [g.appear_s for g in goods]
    assert appear == sorted(appear) and appear[0] < appear[1] < appear[2]
    assert all(g.disappear_s is None for g in goods)


def test_open_truck_has_a_covered_then_an_open_truck(tmp_path: Path) -> None:
    _, truth = _render(tmp_path, "open_truck")
    trucks = {t.id: t for t in truth.objects_of("truck")}
    assert trucks["truck-covered"].covered is True
    assert trucks["truck-open"].covered is False
    assert trucks["truck-covered"].appear_s < trucks["truck-open"].appear_s
    assert trucks["truck-open"].disappear_s is not None  # it drives through


def test_net_removed_exposes_the_soil(tmp_path: Path) -> None:
    _, truth = _render(tmp_path, "net_removed")
    (net,) = truth.objects_of("dust_net")
    (soil,) = truth.objects_of("bare_soil")
    assert net.appear_s == 0.0 and net.disappear_s is not None
    assert soil.disappear_s is None
    assert soil.appear_s >= 0.3 * SECONDS


def test_scenario_is_deterministic(tmp_path: Path) -> None:
    a = render_scenario("stall_setup", tmp_path / "a.mp4", seconds=3, seed=9, fps=5, size=SIZE)
    b = render_scenario("stall_setup", tmp_path / "b.mp4", seconds=3, seed=9, fps=5, size=SIZE)
    assert a.model_dump(exclude={"video"}) == b.model_dump(exclude={"video"})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "parade"}, "unknown scenario"),
        ({"name": "stall_setup", "seconds": 0.5}, "seconds"),
        ({"name": "stall_setup", "fps": 0}, "fps"),
        ({"name": "stall_setup", "size": (321, 180)}, "size"),
        ({"name": "stall_setup", "light": "noon"}, "unknown light"),
    ],
)
def test_render_scenario_rejects_bad_arguments(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        render_scenario(out_path=tmp_path / "x.mp4", **kwargs)  # type: ignore[arg-type]


@pytest.mark.slow
def test_demo_clip_renders_fast_enough(tmp_path: Path) -> None:
    """The demo renders a 40 s stall_setup clip at run time: it must take well under 60 s."""
    started = time.monotonic()
    truth = render_scenario("stall_setup", tmp_path / "demo.mp4", seconds=40, seed=0)
    elapsed = time.monotonic() - started
    assert truth.frame_count == 400
    assert elapsed < 45.0, f"rendering took {elapsed:.1f} s"
