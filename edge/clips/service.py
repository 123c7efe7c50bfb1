"""Event clips: at each case start, wait ``post_s``, cut the clip from the camera's ring.

:meth:`ClipService.request` is the worker's case-start callback (on the camera's thread: it
only queues). When ``post_s`` has passed since the case start, the clip thread takes the
packets from ``pre_s`` before to ``post_s`` after it out of the camera's
:class:`~edge.clips.ring.PacketRing`, remuxes them to MP4 (no decode), writes the file into
the spool under its sha256 with a :class:`~edge.clips.upload.ClipMeta` beside it, and fixes
the hash in the signed chain (a ``clip`` record). The upload thread sends the spool to the
server over HTTP (:class:`~edge.clips.upload.ClipUploader`) and empties it as the server
confirms each clip.

A ring without a keyframe before the clip's end (a stream that just reconnected, one whose
keyframes are further apart than the ring holds) gives no clip: the log says why; the case
itself is not affected (its events went out before).
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from contracts import ZoneEvent
from edge.chain import EdgeChain
from edge.clips.config import ClipsConfig
from edge.clips.remux import Mp4Clip, RemuxError, write_mp4
from edge.clips.ring import NoKeyframeError, PacketRing
from edge.clips.upload import ClipMeta, ClipUploader, UploadError, UploadRefusedError

logger = logging.getLogger(__name__)

GRACE_S = 1.0
"""Wait this long past ``post_s`` for the last packets to arrive before cutting."""

LATE_PACKETS_S = 10.0
"""When the ring's newest packet is still before the clip's end (a reader running behind the
camera), wait up to this much longer for it, then cut what there is."""


@dataclass(order=True, frozen=True, slots=True)
class ClipJob:
    """A clip to cut when ``due_s`` (wall clock) has passed."""

    due_s: float
    camera_id: str = field(compare=False)
    event_id: str = field(compare=False)
    start_s: float = field(compare=False)


class ClipService:
    """Cuts, records and uploads event clips.

    Args:
        edge_id: This edge.
        config: The ``clips:`` block.
        rings: Camera id -> its ring (a live mapping: cameras come and go).
        chain: The edge's chain (``None``: clips are not recorded in one).
        clock: Wall-clock seconds (the packets' capture times are on this scale).
    """

    def __init__(
        self,
        *,
        edge_id: str,
        config: ClipsConfig,
        rings: Mapping[str, PacketRing],
        chain: EdgeChain | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.edge_id = edge_id
        self.config = config
        self.rings = rings
        self.chain = chain
        self.clock = clock
        self.spool = config.spool_dir
        self.spool.mkdir(parents=True, exist_ok=True)
        self.uploader = ClipUploader(config.upload) if config.upload is not None else None
        self._jobs: list[ClipJob] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._upload_wake = threading.Event()
        self._threads = [
            threading.Thread(target=self._cut_loop, name=f"clips-{edge_id}", daemon=True),
            threading.Thread(target=self._upload_loop, name=f"clip-upload-{edge_id}", daemon=True),
        ]
        self.written: list[ClipMeta] = []
        self.uploaded: list[str] = []
        self.failed: list[str] = []

    # ---------------------------------------------------------------- requests

    def request(self, camera_id: str, event: ZoneEvent) -> None:
        """Queue the clip of a case that just started (the worker's case-start callback)."""
        start_s = event.last_seen.timestamp()
        job = ClipJob(start_s + self.config.post_s + GRACE_S, camera_id, event.event_id, start_s)
        with self._cond:
            heapq.heappush(self._jobs, job)
            self._cond.notify_all()

    def pending(self) -> int:
        """Clips waiting to be cut."""
        with self._cond:
            return len(self._jobs)

    # ---------------------------------------------------------------- cutting

    def cut(self, job: ClipJob) -> ClipMeta | None:
        """Write the clip of ``job`` into the spool and record it; ``None``: no clip."""
        ring = self.rings.get(job.camera_id)
        if ring is None:
            logger.warning(
                "camera %s: no clip for case %s: the camera keeps no stream buffer (not an RTSP "
                "camera, or no longer running)",
                job.camera_id,
                job.event_id,
            )
            return None
        try:
            packets = ring.window(job.start_s - self.config.pre_s, job.start_s + self.config.post_s)
        except NoKeyframeError as exc:
            logger.warning("camera %s: no clip for case %s: %s", job.camera_id, job.event_id, exc)
            return None
        partial = self.spool / f".{uuid.uuid4().hex}.mp4.partial"
        try:
            clip = write_mp4(packets, partial)
        except (RemuxError, ValueError, OSError) as exc:
            partial.unlink(missing_ok=True)
            logger.error("camera %s: no clip for case %s: %s", job.camera_id, job.event_id, exc)
            return None
        meta = self._keep(job, clip)
        if packets.late_start_s > 0.5:
            logger.info(
                "camera %s: clip of case %s starts %.1f s later than asked (the buffer did not "
                "reach back %.0f s)",
                job.camera_id,
                job.event_id,
                packets.late_start_s,
                self.config.pre_s,
            )
        if self.chain is not None:
            self.chain.record_clip(job.event_id, clip.sha256)
        logger.info(
            "camera %s: clip of case %s: %.1f s, %d frames, %d bytes (%s)",
            job.camera_id,
            job.event_id,
            clip.duration_s,
            clip.packets,
            clip.byte_size,
            clip.sha256[:12],
        )
        self.written.append(meta)
        self._upload_wake.set()
        return meta

    def _keep(self, job: ClipJob, clip: Mp4Clip) -> ClipMeta:
        meta = ClipMeta(
            edge_id=self.edge_id,
            camera_id=job.camera_id,
            event_id=job.event_id,
            sha256=clip.sha256,
            byte_size=clip.byte_size,
            captured_at=datetime.fromtimestamp(clip.start_s, UTC),
            duration_s=clip.duration_s,
            packets=clip.packets,
            late_start_s=clip.late_start_s,
        )
        clip.path.replace(self.clip_path(clip.sha256))
        sidecar = self.spool / f".{clip.sha256}.json.partial"
        sidecar.write_text(meta.model_dump_json(), encoding="utf-8")
        sidecar.replace(self.meta_path(clip.sha256))
        return meta

    def clip_path(self, sha256: str) -> Path:
        return self.spool / f"{sha256}.mp4"

    def meta_path(self, sha256: str) -> Path:
        return self.spool / f"{sha256}.json"

    def _behind(self, job: ClipJob) -> bool:
        """Whether the camera's packets have not reached the clip's end yet (worth waiting)."""
        ring = self.rings.get(job.camera_id)
        if ring is None or self.clock() > job.start_s + self.config.post_s + LATE_PACKETS_S:
            return False
        newest = ring.stats().newest_s
        return newest is not None and newest < job.start_s + self.config.post_s

    def _cut_loop(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                if not self._jobs:
                    self._cond.wait(0.5)
                    continue
                wait_s = self._jobs[0].due_s - self.clock()
                if wait_s > 0:
                    self._cond.wait(min(wait_s, 0.5))
                    continue
                job = heapq.heappop(self._jobs)
            if self._behind(job):
                with self._cond:
                    heapq.heappush(self._jobs, replace(job, due_s=job.due_s + 1.0))
                continue
            try:
                self.cut(job)
            except Exception:  # a bug must not end the clip thread
                logger.exception(
                    "camera %s: cutting clip of case %s failed", job.camera_id, job.event_id
                )

    # ---------------------------------------------------------------- uploading

    def spooled(self) -> list[ClipMeta]:
        """Clips in the spool, oldest first."""
        metas: list[ClipMeta] = []
        for path in sorted(self.spool.glob("*.json"), key=lambda p: p.stat().st_mtime):
            try:
                metas.append(ClipMeta.model_validate_json(path.read_bytes()))
            except (ValueError, OSError) as exc:
                logger.error("clip spool: %s is unreadable (%s); left in place", path, exc)
        return metas

    def upload_spool(self) -> bool:
        """Try every spooled clip once; returns whether all went (or the spool is empty)."""
        if self.uploader is None:
            return True
        done = True
        for meta in self.spooled():
            try:
                self.uploader.upload(meta, self.clip_path(meta.sha256))
            except UploadRefusedError as exc:
                logger.error("clip %s: %s; kept in %s", meta.sha256[:12], exc, self.spool)
                self.meta_path(meta.sha256).rename(self.spool / f"{meta.sha256}.refused")
                self.failed.append(meta.sha256)
                continue
            except UploadError as exc:
                logger.warning("clip %s not uploaded yet: %s", meta.sha256[:12], exc)
                done = False
                break
            self.clip_path(meta.sha256).unlink(missing_ok=True)
            self.meta_path(meta.sha256).unlink(missing_ok=True)
            self.uploaded.append(meta.sha256)
            logger.info("clip %s of case %s uploaded", meta.sha256[:12], meta.event_id)
        return done

    def _upload_loop(self) -> None:
        if self.uploader is None or self.config.upload is None:
            return
        delay = self.config.upload.retry_initial_s
        while not self._stop.is_set():
            if self.upload_spool():
                delay = self.config.upload.retry_initial_s
                self._upload_wake.wait(30.0)
            else:
                self._upload_wake.wait(delay)
                delay = min(delay * 2, self.config.upload.retry_max_s)
            self._upload_wake.clear()

    # ---------------------------------------------------------------- life

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._upload_wake.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(10.0)
