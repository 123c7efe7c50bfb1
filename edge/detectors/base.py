"""The detector interface, the ONNX plumbing and the half of every plugin that is shared.

A detector takes a BGR ``uint8`` image and returns :class:`edge.types.Detections` in
pixels of that image. Every plugin runs an ONNX file through onnxruntime; this module
loads it (hash, providers, metadata), checks what comes out, and runs the warm-up; settings
live in :mod:`edge.detectors.settings`. Plugins supply the two model-specific halves,
:meth:`OnnxDetector.preprocess` and :meth:`OnnxDetector.decode`; NMS and the way back to
image pixels are shared.
"""

from __future__ import annotations

import hashlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

from contracts import ModelRef
from edge.detectors.coco import COCO80_NAMES
from edge.detectors.nms import Candidates, to_detections
from edge.detectors.settings import DetectorConfigBase
from edge.detectors.transforms import Fitted, ImageTransform
from edge.types import Detections, FloatArray, ImageArray

logger = logging.getLogger(__name__)

ORT_PROVIDERS: dict[str, str] = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
"""Short provider name -> onnxruntime's provider name."""

_CPU = ORT_PROVIDERS["cpu"]


class DetectorError(Exception):
    """A model cannot be loaded or used: the message names the file and the problem."""


@runtime_checkable
class Detector(Protocol):
    """What the edge needs from an object detector.

    Example:
        >>> from edge.detectors import create_detector, parse_detector_config
        >>> config = parse_detector_config({"type": "yolox", "path": "yolox_nano.onnx"})
        >>> detector = create_detector(config)  # doctest: +SKIP
        >>> detections = detector.detect(frame.image)  # doctest: +SKIP
        >>> detections.class_name  # doctest: +SKIP
        ['bus', 'person', 'person']
    """

    @property
    def names(self) -> tuple[str, ...]:
        """The model's class names; ``Detections.class_id`` indexes them."""
        ...

    @property
    def model(self) -> ModelRef:
        """Name, version and sha256 of the loaded model file (recorded in every event)."""
        ...

    @property
    def input_size(self) -> tuple[int, int]:
        """The network's input size as ``(width, height)`` in pixels."""
        ...

    @property
    def providers(self) -> tuple[str, ...]:
        """The onnxruntime execution providers actually in use, in priority order."""
        ...

    def detect(self, image: ImageArray) -> Detections:
        """Detect objects in one BGR ``uint8`` ``(H, W, 3)`` image.

        Returns:
            Boxes in pixels of ``image`` (clipped to it), class ids indexing ``names``.
        """
        ...


@runtime_checkable
class BatchDetector(Detector, Protocol):
    """A detector that runs several images through one inference call."""

    @property
    def max_batch(self) -> int:
        """The most images one call of the network takes (1 for a static batch-1 model)."""
        ...

    def detect_batch(self, images: Sequence[ImageArray]) -> list[Detections]:
        """Detections of each image, the same as :meth:`Detector.detect` gives for it."""
        ...


@runtime_checkable
class Releasable(Protocol):
    """Something holding resources (an inference session) that :meth:`close` frees."""

    def close(self) -> None:
        """Free the resources; later use raises."""
        ...


ConfigT = TypeVar("ConfigT", bound=DetectorConfigBase)


def resolve_providers(
    requested: Sequence[str], available: Sequence[str], *, require: bool
) -> list[str]:
    """Turn requested short provider names into onnxruntime's, keeping what is available.

    Args:
        requested: Short names (``cpu``, ``cuda``, ``tensorrt``) in order of preference.
        available: ``onnxruntime.get_available_providers()``.
        require: Raise instead of warning when a requested provider is unavailable.

    Returns:
        onnxruntime provider names in order, always ending with the CPU provider.

    Raises:
        DetectorError: A requested provider is unknown, or unavailable and ``require``.

    Example:
        >>> resolve_providers(["cuda"], ["CPUExecutionProvider"], require=False)
        ['CPUExecutionProvider']
    """
    chosen: list[str] = []
    for short in requested:
        if short not in ORT_PROVIDERS:
            raise DetectorError(f"unknown execution provider {short!r}")
        full = ORT_PROVIDERS[short]
        if full in available:
            if full not in chosen:
                chosen.append(full)
        elif require:
            raise DetectorError(
                f"execution provider {short!r} ({full}) is required but this onnxruntime "
                f"offers only {list(available)}"
            )
        else:
            logger.warning(
                "execution provider %s (%s) is not available in this onnxruntime "
                "(available: %s); falling back",
                short,
                full,
                list(available),
            )
    if _CPU not in chosen:
        chosen.append(_CPU)
    return chosen


def provider_options(
    providers: Sequence[str],
    config: DetectorConfigBase,
    *,
    input_name: str,
    input_shape: Sequence[int | str | None],
) -> list[str | tuple[str, dict[str, str]]]:
    """onnxruntime's ``providers`` argument: names, with options for CUDA and TensorRT.

    TensorRT builds an engine per input shape range: a model with a dynamic batch axis gets
    one optimisation profile from batch 1 to ``config.max_batch`` (optimised for the max),
    and the engines are cached in ``config.tensorrt_cache_dir`` so that a restart does not
    rebuild them (minutes on a large GPU).

    Example:
        >>> from edge.detectors.settings import DetectorConfigBase
        >>> cfg = DetectorConfigBase(type="yolo", path="m.onnx", max_batch=8)
        >>> trt, cpu = provider_options(["TensorrtExecutionProvider", "CPUExecutionProvider"],
        ...     cfg, input_name="images", input_shape=["batch", 3, 576, 576])
        >>> trt[1]["trt_profile_max_shapes"], cpu
        ('images:8x3x576x576', 'CPUExecutionProvider')
    """
    out: list[str | tuple[str, dict[str, str]]] = []
    for name in providers:
        if name == ORT_PROVIDERS["tensorrt"]:
            options = {"trt_fp16_enable": "1" if config.tensorrt_fp16 else "0"}
            if config.tensorrt_cache_dir is not None:
                options["trt_engine_cache_enable"] = "1"
                options["trt_engine_cache_path"] = str(config.tensorrt_cache_dir)
            dims = list(input_shape)
            if (
                len(dims) == 4
                and not isinstance(dims[0], int)
                and all(isinstance(d, int) for d in dims[1:])
            ):
                rest = "x".join(str(d) for d in dims[1:])
                options["trt_profile_min_shapes"] = f"{input_name}:1x{rest}"
                options["trt_profile_opt_shapes"] = f"{input_name}:{config.max_batch}x{rest}"
                options["trt_profile_max_shapes"] = f"{input_name}:{config.max_batch}x{rest}"
            out.append((name, options))
        elif name == ORT_PROVIDERS["cuda"]:
            out.append((name, {"cudnn_conv_algo_search": "HEURISTIC"}))
        else:
            out.append(name)
    return out


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """Name and shape of a model input or output; ``None`` for a dynamic dimension."""

    name: str
    shape: tuple[int | None, ...]


def _static_shape(shape: Sequence[object]) -> tuple[int | None, ...]:
    return tuple(d if isinstance(d, int) and d > 0 else None for d in shape)


class OnnxModel:
    """One ONNX file loaded into an onnxruntime session, with its identity.

    Build it with :func:`load_onnx_model`.

    Attributes:
        path: The file it came from.
        sha256: Hex digest of the exact bytes loaded.
        metadata: The file's custom metadata (``key -> string``).
        input: The single image input.
        outputs: All outputs in the session's order.
        providers: Providers in use, in priority order.
    """

    def __init__(self, *, path: Path, sha256: str, session: Any) -> None:
        self.path = path
        self.sha256 = sha256
        self.session = session
        meta = session.get_modelmeta()
        self.metadata: dict[str, str] = dict(meta.custom_metadata_map)
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise DetectorError(
                f"{path}: expected one image input, the model has {len(inputs)}: "
                f"{[i.name for i in inputs]}"
            )
        self.input = TensorSpec(inputs[0].name, _static_shape(inputs[0].shape))
        self.outputs = tuple(
            TensorSpec(o.name, _static_shape(o.shape)) for o in session.get_outputs()
        )
        self._output_names = [o.name for o in self.outputs]
        self.providers: tuple[str, ...] = tuple(session.get_providers())

    @property
    def batch_size(self) -> int | None:
        """The input's fixed batch size, or ``None`` when the batch axis is dynamic."""
        return self.input.shape[0] if self.input.shape else None

    def run(self, tensor: FloatArray) -> list[npt.NDArray[np.float32]]:
        """One bare ``session.run`` on a prepared input tensor.

        Raises:
            DetectorError: The model was closed.
        """
        if self.session is None:
            raise DetectorError(f"{self.path}: the model was closed")
        result: list[npt.NDArray[np.float32]] = self.session.run(
            self._output_names, {self.input.name: tensor}
        )
        return result

    def close(self) -> None:
        """Drop the inference session (its memory goes with the last reference)."""
        self.session = None

    def model_ref(self, *, name: str | None, version: str | None) -> ModelRef:
        """The identity recorded in events; explicit values win over metadata."""
        return ModelRef(
            name=name or self.metadata.get("model_name") or self.path.stem or "model",
            version=version or self.metadata.get("model_version") or "unversioned",
            sha256=self.sha256,
        )

    def input_hw(self, *, default: tuple[int, int] | None = None) -> tuple[int, int]:
        """The input's ``(height, width)``; ``default`` where the model leaves it dynamic."""
        shape = self.input.shape
        if len(shape) != 4 or shape[1] not in (3, None):
            raise DetectorError(
                f"{self.path}: input {self.input.name!r} has shape {shape}, "
                "expected (1, 3, height, width)"
            )
        h, w = shape[2], shape[3]
        if h is not None and w is not None:
            return h, w
        if default is None:
            raise DetectorError(
                f"{self.path}: input {self.input.name!r} has a dynamic size {shape} and "
                "no size is configured"
            )
        return default


def load_onnx_model(config: DetectorConfigBase) -> OnnxModel:
    """Read, hash and open ``config.path`` with the configured providers and threads.

    Raises:
        DetectorError: The file is missing or unreadable, is not ONNX, or a required
            provider is unavailable.
    """
    import onnxruntime as ort

    path = config.path
    if not path.is_file():
        raise DetectorError(f"{path}: model file not found")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DetectorError(f"{path}: cannot read model file: {exc}") from exc
    if not data:
        raise DetectorError(f"{path}: model file is empty")
    sha256 = hashlib.sha256(data).hexdigest()
    providers = resolve_providers(
        config.providers, ort.get_available_providers(), require=config.require_providers
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = config.intra_op_threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry(
        "session.intra_op.allow_spinning", "1" if config.intra_op_spinning else "0"
    )
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: old exports spam initializer warnings
    gpu = [p for p in providers if p != _CPU]
    if gpu:  # CUDA and TensorRT take options (TensorRT: the dynamic batch's shape range)
        probe = ort.InferenceSession(data, providers=[_CPU]).get_inputs()[0]
        chosen = provider_options(
            providers, config, input_name=probe.name, input_shape=list(probe.shape)
        )
    else:
        chosen = list(providers)
    try:
        session = ort.InferenceSession(data, sess_options=options, providers=chosen)
    except Exception as exc:  # onnxruntime raises its own pybind exception types
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise DetectorError(
            f"{path}: not a loadable ONNX model ({type(exc).__name__}: {first_line[:300]})"
        ) from exc
    in_use = session.get_providers()
    missing = [p for p in providers if p not in in_use]
    if missing:
        if config.require_providers:
            raise DetectorError(
                f"{path}: execution providers {missing} failed to initialise (in use: {in_use})"
            )
        logger.warning(
            "%s: execution providers %s failed to initialise; using %s", path, missing, in_use
        )
    return OnnxModel(path=path, sha256=sha256, session=session)


def load_names_file(path: Path) -> tuple[str, ...]:
    """Read class names, one a line (blank lines ignored), as Darknet's ``.names`` files.

    Raises:
        DetectorError: The file is missing, unreadable, empty or repeats a name.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DetectorError(f"{path}: cannot read class names: {exc}") from exc
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not names:
        raise DetectorError(f"{path}: class names file is empty")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DetectorError(f"{path}: class names repeated: {repeated}")
    return names


def resolve_class_names(
    names_file: Path | None, num_classes: int, model_path: Path
) -> tuple[str, ...]:
    """Class names from ``names_file`` or COCO-80, checked against the model's class count.

    Raises:
        DetectorError: The names file is bad or its length differs from ``num_classes``.
    """
    names = COCO80_NAMES if names_file is None else load_names_file(names_file)
    if len(names) != num_classes:
        source = "the default COCO-80 list" if names_file is None else str(names_file)
        raise DetectorError(
            f"{model_path}: the model predicts {num_classes} classes but {source} has "
            f"{len(names)} names; set names_file to a list that matches"
        )
    return names


@dataclass(frozen=True, slots=True)
class Prepared:
    """A network input and the mapping from network pixels back to the image.

    Attributes:
        tensor: ``(1, 3, H, W)`` float32 network input.
        transform: Maps the network's pixel coordinates back to the image's.
        image_wh: Size of the original image as ``(width, height)``.
    """

    tensor: FloatArray
    transform: ImageTransform
    image_wh: tuple[int, int]

    @classmethod
    def of(cls, image: ImageArray, fitted: Fitted, tensor: FloatArray) -> Prepared:
        """The input ``tensor`` made of ``fitted``, a resize or letterbox of ``image``."""
        image_wh = (int(image.shape[1]), int(image.shape[0]))
        return cls(tensor=tensor, transform=fitted.transform, image_wh=image_wh)


@dataclass(frozen=True, slots=True)
class TimedDetections:
    """Detections of one image with the time each stage took, in seconds."""

    detections: Detections
    preprocess_s: float
    inference_s: float
    postprocess_s: float


def check_image(image: ImageArray) -> tuple[int, int]:
    """Return ``(width, height)`` of a BGR ``uint8`` image; ``ValueError`` for anything else."""
    if (
        not isinstance(image, np.ndarray)
        or image.ndim != 3
        or image.shape[2] != 3
        or image.dtype != np.uint8
    ):
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise ValueError(f"image must be an HxWx3 uint8 BGR array, got {shape} {dtype}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image is empty: shape {image.shape}")
    return int(image.shape[1]), int(image.shape[0])


class OnnxDetector(ABC, Generic[ConfigT]):
    """Shared half of every ONNX plugin: identity, stages, warm-up.

    Subclasses load the model in ``__init__`` (via :func:`load_onnx_model`), set
    ``self._names`` and ``self._input_hw``, then call :meth:`_warm_up`; they implement
    :meth:`preprocess` and :meth:`decode`, and this class does NMS and the way back to the
    image.
    """

    _config: ConfigT
    _onnx: OnnxModel
    _names: tuple[str, ...]
    _input_hw: tuple[int, int]
    _model_ref: ModelRef
    _needs_nms: bool = True
    """False for a model with NMS in its graph: :meth:`postprocess` then only sorts."""

    def __init__(self, config: ConfigT) -> None:
        self._config = config
        self._onnx = load_onnx_model(config)
        self._model_ref = self._onnx.model_ref(name=config.name, version=config.version)

    @property
    def config(self) -> ConfigT:
        return self._config

    @property
    def onnx(self) -> OnnxModel:
        """The loaded model (for benchmarks: a bare ``onnx.run(tensor)``)."""
        return self._onnx

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def model(self) -> ModelRef:
        return self._model_ref

    @property
    def input_size(self) -> tuple[int, int]:
        return self._input_hw[1], self._input_hw[0]

    @property
    def providers(self) -> tuple[str, ...]:
        return self._onnx.providers

    @abstractmethod
    def preprocess(self, image: ImageArray) -> Prepared:
        """Turn a checked BGR image into the network input."""

    @abstractmethod
    def decode(self, outputs: Sequence[npt.NDArray[np.float32]]) -> Candidates:
        """Decode the raw outputs into candidates in network pixels.

        Raises:
            ValueError: The outputs do not have the shapes the format needs.
        """

    def postprocess(
        self, outputs: Sequence[npt.NDArray[np.float32]], prepared: Prepared
    ) -> Detections:
        """Decode the raw outputs, then NMS (unless the model ran it) and map to image pixels.

        Raises:
            DetectorError: The outputs do not fit the format (the message names the file).
        """
        try:
            candidates = self.decode(outputs)
        except ValueError as exc:
            raise DetectorError(f"{self._onnx.path}: {exc}") from exc
        return to_detections(
            candidates,
            transform=prepared.transform,
            image_wh=prepared.image_wh,
            names=self._names,
            iou_threshold=self._config.iou,
            max_detections=self._config.max_detections,
            nms=self._needs_nms,
        )

    def infer(self, prepared: Prepared) -> list[npt.NDArray[np.float32]]:
        """Run the network on a prepared input."""
        return self._onnx.run(prepared.tensor)

    def detect(self, image: ImageArray) -> Detections:
        check_image(image)
        prepared = self.preprocess(image)
        return self.postprocess(self.infer(prepared), prepared)

    @property
    def max_batch(self) -> int:
        """Images per network call: the configured ``max_batch``, 1 for a batch-1 model."""
        fixed = self._onnx.batch_size
        return self._config.max_batch if fixed is None else fixed

    def infer_batch(self, prepared: Sequence[Prepared]) -> list[list[npt.NDArray[np.float32]]]:
        """Run the network on prepared inputs, :attr:`max_batch` at a time.

        Returns:
            Per input, its outputs with a batch axis of 1 (as :meth:`infer` gives them).
        """
        results: list[list[npt.NDArray[np.float32]]] = []
        step = max(1, self.max_batch)
        for start in range(0, len(prepared), step):
            chunk = prepared[start : start + step]
            if len(chunk) == 1:
                results.append(self.infer(chunk[0]))
                continue
            outputs = self._onnx.run(np.concatenate([p.tensor for p in chunk], axis=0))
            for i in range(len(chunk)):
                results.append([out[i : i + 1] for out in outputs])
        return results

    def detect_batch(self, images: Sequence[ImageArray]) -> list[Detections]:
        """Detect in several images with as few network calls as :attr:`max_batch` allows.

        Gives each image the same detections as :meth:`detect` (the network sees the same
        input; a test holds them to it).
        """
        for image in images:
            check_image(image)
        prepared = [self.preprocess(image) for image in images]
        outputs = self.infer_batch(prepared)
        return [self.postprocess(o, p) for o, p in zip(outputs, prepared, strict=True)]

    def close(self) -> None:
        """Release the inference session; :meth:`detect` raises afterwards."""
        self._onnx.close()

    def detect_timed(self, image: ImageArray) -> TimedDetections:
        """As :meth:`detect`, with the wall time of each stage."""
        check_image(image)
        t0 = time.perf_counter()
        prepared = self.preprocess(image)
        t1 = time.perf_counter()
        outputs = self.infer(prepared)
        t2 = time.perf_counter()
        detections = self.postprocess(outputs, prepared)
        t3 = time.perf_counter()
        return TimedDetections(detections, t1 - t0, t2 - t1, t3 - t2)

    def _warm_up(self) -> None:
        h, w = self._input_hw
        blank = np.full((h, w, 3), 114, dtype=np.uint8)
        t0 = time.perf_counter()
        for _ in range(self._config.warmup_runs):
            self.detect(blank)
        logger.info(
            "detector %s loaded: %s (%s %s, sha256 %s), input %dx%d, %d classes, "
            "providers %s, warm-up %d run(s) in %.1f ms",
            self._config.type,
            self._onnx.path,
            self._model_ref.name,
            self._model_ref.version,
            self._onnx.sha256[:12],
            w,
            h,
            len(self._names),
            list(self.providers),
            self._config.warmup_runs,
            (time.perf_counter() - t0) * 1000.0,
        )
