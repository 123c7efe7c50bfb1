"""A constant-velocity Kalman filter of one box, as ByteTracker predicts and corrects it."""

from __future__ import annotations

import numpy as np

from edge.tracking.matching import F64


def _box_scaled(h: float, *, pos: float, aspect: float, vel: float, vel_aspect: float) -> F64:
    """Per-state standard deviations: position and velocity terms scale with box height."""
    return np.array([pos * h, pos * h, aspect, pos * h, vel * h, vel * h, vel_aspect, vel * h])


class KalmanBoxFilter:
    """Constant-velocity Kalman filter of one box: ``(cx, cy, aspect, height)`` + velocities.

    As in ByteTrack / DeepSORT, but with velocities per second and process noise that grows
    with the real time between two analysed frames. Noise scales with the box height.

    Example:
        >>> kf = KalmanBoxFilter(np.array([0.0, 0.0, 10.0, 20.0]))
        >>> kf.predict(1.0)
        >>> kf.box().round(3).tolist()
        [0.0, 0.0, 10.0, 20.0]
    """

    _POS = 1.0 / 20.0
    _VEL_INIT = 1.0
    _VEL_NOISE = 0.5
    _H = np.hstack([np.eye(4), np.zeros((4, 4))])

    def __init__(self, xyxy: F64) -> None:
        z = self.xyah(xyxy)
        self.mean: F64 = np.concatenate([z, np.zeros(4)])
        std = _box_scaled(z[3], pos=2 * self._POS, aspect=1e-2, vel=self._VEL_INIT, vel_aspect=1e-5)
        self.cov: F64 = np.diag(np.square(std))

    @staticmethod
    def xyah(xyxy: F64) -> F64:
        """``(cx, cy, w / h, h)`` of an xyxy box."""
        w = max(float(xyxy[2] - xyxy[0]), 1e-3)
        h = max(float(xyxy[3] - xyxy[1]), 1e-3)
        return np.array([(xyxy[0] + xyxy[2]) / 2.0, (xyxy[1] + xyxy[3]) / 2.0, w / h, h])

    def box(self) -> F64:
        """The current estimate as an xyxy box."""
        cx, cy, a, h = self.mean[:4]
        h = max(float(h), 1e-3)
        w = max(float(a), 1e-3) * h
        return np.array([cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0])

    def predict(self, dt_s: float) -> None:
        """Move the estimate ``dt_s`` seconds ahead."""
        if dt_s <= 0:
            return
        f = np.eye(8)
        f[:4, 4:] = np.eye(4) * dt_s
        h = max(float(self.mean[3]), 1e-3)
        std = _box_scaled(h, pos=self._POS, aspect=1e-2, vel=self._VEL_NOISE, vel_aspect=1e-5)
        q = np.square(std) * min(dt_s, 10.0)
        self.mean = f @ self.mean
        self.cov = f @ self.cov @ f.T + np.diag(q)

    def update(self, xyxy: F64) -> None:
        """Fold in a measured box."""
        z = self.xyah(xyxy)
        h = max(float(self.mean[3]), 1e-3)
        r = np.diag(np.square(np.array([self._POS * h, self._POS * h, 1e-1, self._POS * h])))
        hm = self._H
        s = hm @ self.cov @ hm.T + r
        gain = np.linalg.solve(s, hm @ self.cov).T
        self.mean = self.mean + gain @ (z - hm @ self.mean)
        self.cov = (np.eye(8) - gain @ hm) @ self.cov

    def stop(self) -> None:
        """Zero the velocity (a stationary object does not drift while hidden)."""
        self.mean[4:] = 0.0
