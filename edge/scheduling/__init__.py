"""When each camera is analysed, and how analyses share the detector.

* :mod:`edge.scheduling.due`: each camera's looks on a grid of its own phase (due times
  spread over the period, so that cameras do not all look at once);
* :mod:`edge.scheduling.batch`: cameras' frames collected into one inference call (a max
  batch and a max wait), behind the :class:`~edge.detectors.Detector` interface;
* :mod:`edge.scheduling.config`: the ``scheduling:`` block of the edge config.
"""
