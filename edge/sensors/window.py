"""Rolling means of sensor samples over a time window (pure; time comes with the samples).

Particulate concentrations are averaged arithmetically. Sound levels are averaged as
energy (``10 * log10(mean(10 ** (L / 10)))``), which is how an equivalent level over a
period (LAeq) is defined: a few loud minutes dominate, as the ear and the standard say.
"""

from __future__ import annotations

import bisect
import math
from datetime import datetime, timedelta

from contracts.sensors import Quantity
from edge.sensors.samples import SensorSample


def is_energy_quantity(quantity: Quantity) -> bool:
    """Whether ``quantity`` is in decibels and averages as energy."""
    return quantity is Quantity.NOISE_LAEQ


class RollingWindow:
    """The samples of one sensor and quantity within the last ``window_s`` seconds.

    Samples may arrive out of order; a repeated sample (same time, e.g. an MQTT QoS 1
    redelivery) replaces the earlier copy. The window ends at the newest sample.

    Args:
        window_s: Window length in seconds.
        energy: Average as sound energy (decibels) instead of arithmetically.

    Example:
        >>> from datetime import UTC, datetime, timedelta
        >>> w = RollingWindow(900.0, energy=False)
        >>> t0 = datetime(2025, 6, 2, tzinfo=UTC)
        >>> for k, v in enumerate([100.0, 200.0]):
        ...     w.add(SensorSample("s", "d", Quantity.PM10, v, t0 + timedelta(minutes=k)))
        >>> w.mean()
        150.0
    """

    def __init__(self, window_s: float, *, energy: bool) -> None:
        if not window_s > 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self.window_s = window_s
        self.energy = energy
        self._times: list[datetime] = []
        self._samples: list[SensorSample] = []

    def __len__(self) -> int:
        return len(self._samples)

    def add(self, sample: SensorSample) -> None:
        """Add a sample and drop those that fell out of the window."""
        k = bisect.bisect_left(self._times, sample.measured_at)
        if k < len(self._times) and self._times[k] == sample.measured_at:
            self._samples[k] = sample
        else:
            self._times.insert(k, sample.measured_at)
            self._samples.insert(k, sample)
        start = self._times[-1] - timedelta(seconds=self.window_s)
        cut = bisect.bisect_right(self._times, start)
        if cut:
            del self._times[:cut]
            del self._samples[:cut]

    @property
    def end(self) -> datetime | None:
        """Time of the newest sample."""
        return self._times[-1] if self._times else None

    def span_s(self) -> float:
        """Seconds between the oldest and the newest sample in the window."""
        if not self._times:
            return 0.0
        return (self._times[-1] - self._times[0]).total_seconds()

    def mean(self) -> float | None:
        """The window's mean (energy mean for decibels), or ``None`` when empty."""
        if not self._samples:
            return None
        values = [s.value for s in self._samples]
        if self.energy:
            return 10.0 * math.log10(sum(10.0 ** (v / 10.0) for v in values) / len(values))
        return sum(values) / len(values)

    def samples(self) -> list[SensorSample]:
        """The samples in the window, oldest first."""
        return list(self._samples)
