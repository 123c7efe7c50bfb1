"""A rule scenario's frames: time, pixels, truth boxes, and sensor readings delivered once."""

from __future__ import annotations

import itertools

import pytest

from training.scenes.classes import CLASSES
from training.scenes.rule_scenarios import SIZE, build_scenario, render_frames


def test_frames_carry_time_truth_and_readings_once() -> None:
    scenario = build_scenario("dust_over_limit")
    frames = list(itertools.islice(render_frames(scenario, images=True), 12))
    assert [f.index for f in frames] == list(range(12))
    assert all(b.ts > a.ts for a, b in itertools.pairwise(frames))
    assert frames[0].image is not None and frames[0].image.shape == (SIZE[1], SIZE[0], 3)
    delivered = [s for f in frames for s in f.readings]
    assert len(delivered) == len({(s.sensor_id, s.measured_at) for s in delivered})
    assert len(frames[0].readings) == 15  # the 14 minutes before the clip, and its start
    truth = frames[0].truth()
    assert truth.names == CLASSES and "dust_net" in truth.class_name


def test_frames_without_pixels_have_the_same_truth() -> None:
    scenario = build_scenario("stall_illegal")
    lit = list(itertools.islice(render_frames(scenario, images=True), 10))
    dark = list(itertools.islice(render_frames(scenario, images=False), 10))
    assert all(f.image is None for f in dark)
    assert [f.boxes for f in lit] == [f.boxes for f in dark]
    with pytest.raises(ValueError, match="frame 0 was rendered without pixels"):
        dark[0].frame(scenario.camera_id)


def test_frame_as_the_edge_sees_it() -> None:
    scenario = build_scenario("stall_illegal")
    shot = next(render_frames(scenario))
    frame = shot.frame(scenario.camera_id)
    assert (frame.camera_id, frame.seq, frame.ts) == ("scn-stall-illegal", 0, scenario.clock_start)
    assert frame.resolution_wh == SIZE and frame.image is shot.image


def test_truth_of_an_empty_frame() -> None:
    scenario = build_scenario("site_netted")
    shot = next(render_frames(scenario, images=False))
    empty = type(shot)(shot.index, shot.t_s, shot.ts, None, (), ())
    truth = empty.truth()
    assert len(truth) == 0 and truth.names == CLASSES
