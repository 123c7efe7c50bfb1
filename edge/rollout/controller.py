"""Apply model assignments: fetch, load beside the running model, compare, swap, record.

:class:`ModelRollout` takes the retained :class:`contracts.model_rollout.ModelAssignmentMessage`
(register :meth:`ModelRollout.on_message` with ``Publisher.subscribe`` on the edge's model
topic; it queues the work and returns at once) and applies it on its own thread:

1. a message for another edge, or a revision not newer than the applied one, is skipped;
2. the file is fetched and verified (:func:`edge.rollout.download.fetch_model`);
3. the new detector is loaded and warmed up while the running one keeps working;
4. both run on a sample of recent frames; their **agreement** (boxes of one class that
   overlap by IoU 0.5, over the larger count; 1.0 when both find nothing) is recorded, and
   a candidate below ``min_agreement`` is refused;
5. :meth:`edge.worker.EdgeWorker.swap_detector` switches every camera between two of its
   frames (tracks and open cases kept);
6. the applied revision, model and agreement are written to the state file (atomic), which
   is also what a restarted edge reads to know what it runs.

Any failure leaves the running model in place; the state file and the log say why.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from pydantic import ValidationError

from contracts.model_rollout import ModelAssignmentMessage
from edge.detectors import Detector
from edge.rollout.download import ModelFetchError, fetch_model
from edge.types import Detections, ImageArray

logger = logging.getLogger(__name__)


class DetectorHost(Protocol):
    """What the rollout swaps the model of (:class:`edge.worker.EdgeWorker`)."""

    def swap_detector(self, detector: Detector) -> None: ...


@dataclass(frozen=True, slots=True)
class RolloutSettings:
    """Where the models come from and where the outcome is kept."""

    edge_id: str
    server_url: str
    token: str
    models_dir: Path
    state_file: Path
    min_agreement: float = 0.0
    sample_frames: int = 4
    compare_pause_s: float = 0.25
    """Pause between two compared frames, so the cameras' own analysis keeps its pace."""

    def __repr__(self) -> str:  # the token stays out of logs
        return f"RolloutSettings(edge_id={self.edge_id!r}, server_url={self.server_url!r})"


@dataclass(frozen=True, slots=True)
class RolloutOutcome:
    """What happened to one assignment (the state file's content)."""

    revision: int
    state: Literal["applied", "failed", "skipped"]
    model: str
    sha256: str
    agreement: float | None
    detail: str
    at: str


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).clip(0).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).clip(0).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    out: np.ndarray = np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
    return out


def agreement(old: Sequence[Detections], new: Sequence[Detections], iou: float = 0.5) -> float:
    """Share of boxes the two models agree on over the larger count (1.0: both found nothing).

    Boxes agree when they have the same class name and overlap by ``iou``; each box is used
    once (greedy, most overlapping first).
    """
    matched = total_old = total_new = 0
    for a, b in zip(old, new, strict=True):
        total_old += len(a)
        total_new += len(b)
        if not len(a) or not len(b):
            continue
        names_a = np.array([a.names[i] for i in a.class_id])
        names_b = np.array([b.names[i] for i in b.class_id])
        overlap = _iou(a.xyxy.astype(np.float64), b.xyxy.astype(np.float64))
        overlap = np.where(names_a[:, None] == names_b[None, :], overlap, 0.0)
        while overlap.size and overlap.max() >= iou:
            i, j = np.unravel_index(int(overlap.argmax()), overlap.shape)
            matched += 1
            overlap[i, :] = 0.0
            overlap[:, j] = 0.0
    larger = max(total_old, total_new)
    return 1.0 if larger == 0 else matched / larger


class ModelRollout:
    """Applies model assignments to a running edge (see the module)."""

    def __init__(
        self,
        settings: RolloutSettings,
        host: DetectorHost,
        *,
        current: Callable[[], Detector],
        samples: Callable[[], list[ImageArray]],
        load: Callable[[Path], Detector],
        login: Callable[[], str] | None = None,
        report: Callable[[RolloutOutcome], None] | None = None,
    ) -> None:
        """``login`` gives a fresh bearer token before each download (else settings.token);
        ``report`` tells the server each outcome (a failure to report is logged only)."""
        self.settings = settings
        self._login = login
        self._report = report
        self._host = host
        self._current = current
        self._samples = samples
        self._load = load
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.outcomes: list[RolloutOutcome] = []

    # -- the MQTT side -------------------------------------------------------------------
    def on_message(self, _topic: str, payload: bytes) -> None:
        """``Publisher.subscribe`` handler: queue the message (returns at once)."""
        self._queue.put(payload)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="model-rollout", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        while (payload := self._queue.get()) is not None:
            try:
                self.apply(payload)
            except Exception:  # one bad message never stops the rollout thread
                logger.exception("model rollout: unexpected failure; the running model stays")

    # -- the work ------------------------------------------------------------------------
    def applied_revision(self) -> int:
        try:
            state = json.loads(self.settings.state_file.read_text())
        except (OSError, ValueError):
            return 0
        return int(state.get("applied_revision", 0))

    def _record(
        self, outcome: RolloutOutcome, *, applied: bool, report: bool = True
    ) -> RolloutOutcome:
        self.outcomes.append(outcome)
        if report and self._report is not None:
            try:
                self._report(outcome)
            except Exception as exc:  # the server may be away: the state file keeps it
                logger.warning(
                    "model rollout: could not report revision %d: %s", outcome.revision, exc
                )
        state: dict[str, object] = {}
        try:
            state = json.loads(self.settings.state_file.read_text())
        except (OSError, ValueError):
            state = {}
        state["last"] = asdict(outcome)
        if applied:
            state["applied_revision"] = outcome.revision
            state["applied"] = asdict(outcome)
        path = self.settings.state_file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(path)
        log = logger.info if outcome.state != "failed" else logger.warning
        log(
            "model rollout revision %d: %s %s (%s)",
            outcome.revision,
            outcome.state,
            outcome.model,
            outcome.detail,
        )
        return outcome

    def apply(self, payload: bytes) -> RolloutOutcome:
        """Apply one assignment message now (the rollout thread calls this)."""
        now = datetime.now(UTC).isoformat()
        try:
            message = ModelAssignmentMessage.from_json(payload)
        except ValidationError as exc:
            return self._record(
                RolloutOutcome(
                    0,
                    "failed",
                    "?",
                    "",
                    None,
                    f"unreadable assignment: {exc.errors()[0]['msg']}",
                    now,
                ),
                applied=False,
            )
        model = message.model
        label = f"{model.name}@{model.version}"

        def outcome(
            state: Literal["applied", "failed", "skipped"], detail: str, agree: float | None = None
        ) -> RolloutOutcome:
            return RolloutOutcome(message.revision, state, label, model.sha256, agree, detail, now)

        if message.edge_id != self.settings.edge_id:
            return self._record(
                outcome("skipped", f"meant for edge {message.edge_id}"), applied=False, report=False
            )
        if message.revision <= self.applied_revision():
            return self._record(
                outcome("skipped", "this revision is already applied"), applied=False
            )
        try:
            token = self._login() if self._login is not None else self.settings.token
            fetched = fetch_model(self.settings.server_url, token, model, self.settings.models_dir)
        except ModelFetchError as exc:
            return self._record(outcome("failed", str(exc)), applied=False)
        try:
            candidate = self._load(fetched.path)
        except Exception as exc:  # an onnxruntime load error has no common type
            return self._record(
                outcome("failed", f"cannot load {fetched.path.name}: {exc}"), applied=False
            )
        if candidate.model.sha256 != model.sha256:
            return self._record(
                outcome(
                    "failed", f"the loaded model reports sha256 {candidate.model.sha256[:12]}…"
                ),
                applied=False,
            )
        frames = self._samples()[: self.settings.sample_frames]
        running = self._current()
        old_found, new_found = [], []
        for frame in frames:
            old_found.append(running.detect(frame))
            time.sleep(self.settings.compare_pause_s)
            new_found.append(candidate.detect(frame))
            time.sleep(self.settings.compare_pause_s)
        agree = agreement(old_found, new_found)
        was = f"{running.model.name}@{running.model.version}"
        detail = f"agreement {agree:.2f} with {was} on {len(frames)} frames"
        if agree < self.settings.min_agreement:
            _close(candidate)
            return self._record(
                outcome("failed", f"{detail}, below {self.settings.min_agreement}", agree),
                applied=False,
            )
        try:
            self._host.swap_detector(candidate)
        except ValueError as exc:  # LabelMapError: the classes do not fit the cameras
            _close(candidate)
            return self._record(outcome("failed", f"not swapped: {exc}", agree), applied=False)
        action = "rolled back to" if message.action == "rollback" else "running"
        return self._record(outcome("applied", f"{action} {label}; {detail}", agree), applied=True)


def _close(detector: Detector) -> None:
    close = getattr(detector, "close", None)
    if callable(close):
        close()
