"""Rebuilding a trainable checkpoint from a deployed ONNX model (training.warmstart)."""

from __future__ import annotations

import copy
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from training.scenes.world import render_still
from training.warmstart import (
    WarmStartError,
    _network_input,
    checkpoint_from_onnx,
    grow_checkpoint,
)

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "civicwatch-street-v4.onnx"  # 416 px input
ARCH = REPO / "training" / "arch" / "civicwatch-street.yaml"


@pytest.fixture(scope="module")
def calibration(tmp_path_factory: pytest.TempPathFactory, ultralytics_offline: Path) -> list[Path]:
    # ultralytics is imported in this process: offline first (no online check, no font fetch)
    folder = tmp_path_factory.mktemp("calibration")
    paths = []
    for i in range(12):
        path = folder / f"{i}.jpg"
        cv2.imwrite(str(path), render_still((77, i), 416).image)
        paths.append(path)
    return paths


def test_rebuilt_checkpoint_computes_what_the_onnx_file_computes(
    tmp_path: Path, calibration: list[Path]
) -> None:
    import torch

    out = checkpoint_from_onnx(MODEL, ARCH, tmp_path / "init.pt", calibration)
    ckpt = torch.load(out, map_location="cpu", weights_only=False)
    model = ckpt["model"].float().eval()
    assert model.names[3] == "stall"
    x = torch.from_numpy(np.stack([_network_input(p, 416) for p in calibration]))
    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    with torch.no_grad():
        ours, maps_eval = model(x)
    theirs = np.concatenate([session.run(None, {name: x[i : i + 1].numpy()})[0] for i in range(12)])
    scores = slice(4, None)
    assert np.abs(ours.numpy()[:, scores] - theirs[:, scores]).max() < 1e-3
    assert np.abs(ours.numpy()[:, :4] - theirs[:, :4]).max() < 0.05  # pixels
    # In training mode the batch norms use the batch's own statistics: on the calibration
    # batch these are the statistics they were set from, so training starts from the same
    # function rather than from a model whose normalisation is off.
    trainable = copy.deepcopy(model).train()
    with torch.no_grad():
        maps_train = trainable(x)
    for key in ("boxes", "scores"):
        assert torch.allclose(maps_train[key], maps_eval[key], atol=1e-3, rtol=1e-3), key


def test_onnx_of_another_width_is_refused(tmp_path: Path, calibration: list[Path]) -> None:
    wider = tmp_path / "wider.yaml"
    wider.write_text(ARCH.read_text().replace("width_multiple: 0.1875", "width_multiple: 0.25"))
    assert wider.read_text() != ARCH.read_text(), "the test needs the arch's width line"
    with pytest.raises(WarmStartError, match="does not fit"):
        checkpoint_from_onnx(MODEL, wider, tmp_path / "init.pt", calibration)
    assert not (tmp_path / "init.pt").exists()


def test_onnx_without_metadata_is_refused(tmp_path: Path, calibration: list[Path]) -> None:
    proto = onnx.load(str(MODEL))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    with pytest.raises(WarmStartError, match="lacks ultralytics metadata"):
        checkpoint_from_onnx(bare, ARCH, tmp_path / "init.pt", calibration)


def test_unreadable_calibration_image_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(WarmStartError, match="cannot be read"):
        checkpoint_from_onnx(MODEL, ARCH, tmp_path / "init.pt", [broken])


P2_ARCH = REPO / "training" / "arch" / "civicwatch-street-p2.yaml"


def test_grown_model_keeps_every_old_output_and_adds_a_quiet_stride_4_level(
    tmp_path: Path, calibration: list[Path]
) -> None:
    import torch

    old_path = checkpoint_from_onnx(MODEL, ARCH, tmp_path / "init.pt", calibration)
    grown_path = grow_checkpoint(old_path, P2_ARCH, tmp_path / "grown.pt", calibration)
    old = torch.load(old_path, map_location="cpu", weights_only=False)["model"].float().eval()
    grown_ckpt = torch.load(grown_path, map_location="cpu", weights_only=False)
    grown = grown_ckpt["model"].float().eval()
    assert grown_ckpt["train_args"]["model"] == str(P2_ARCH)
    assert grown.stride.tolist() == [8.0, 16.0, 32.0, 4.0]
    assert grown.names == old.names
    x = torch.from_numpy(np.stack([_network_input(p, 416) for p in calibration]))
    with torch.no_grad():
        theirs = old(x)[0]
        ours = grown(x)[0]
    n_old = theirs.shape[2]
    assert ours.shape[2] == n_old + (416 // 4) ** 2  # one anchor per stride-4 cell added
    assert torch.allclose(ours[:, :, :n_old], theirs, atol=1e-4)
    assert float(ours[:, 4:, n_old:].max()) < 0.01  # the new level starts with no detections


def test_growing_into_a_layout_that_moves_old_layers_is_refused(
    tmp_path: Path, calibration: list[Path]
) -> None:
    old_path = checkpoint_from_onnx(MODEL, ARCH, tmp_path / "init.pt", calibration)
    text = P2_ARCH.read_text()
    shuffled = tmp_path / "shuffled.yaml"
    shuffled.write_text(
        text.replace("[[15, 18, 21, 24], 1, Detect", "[[24, 15, 18, 21], 1, Detect")
    )
    assert shuffled.read_text() != text, "the test needs the P2 arch's Detect line"
    with pytest.raises(WarmStartError, match="must take the old head's inputs"):
        grow_checkpoint(old_path, shuffled, tmp_path / "a.pt", calibration)
    moved = tmp_path / "moved.yaml"
    moved.write_text(
        text.replace(
            "[[-1, 12], 1, Concat, [1]] # cat head P4",
            "[[-1, 6], 1, Concat, [1]] # cat backbone P4",
        )
    )
    assert moved.read_text() != text, "the test needs the P2 arch's head P4 line"
    with pytest.raises(WarmStartError, match="does not extend"):
        grow_checkpoint(old_path, moved, tmp_path / "b.pt", calibration)
    assert not (tmp_path / "a.pt").exists() and not (tmp_path / "b.pt").exists()
