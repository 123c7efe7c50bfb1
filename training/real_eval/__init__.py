"""The real-image evaluation (``civicwatch evaluate --real``): how a model holds on real footage.

The edge's own code (detector plugin, label map, tracker, cover classifier and voting band, at
the thresholds of ``configs/edge.yaml``) runs over the real clips and photos of the shared data
folder; :mod:`training.real_eval.table` renders one row per model, and
:mod:`training.real_eval.gate` decides whether a model may replace the default.

* :mod:`training.real_eval.records`: result records and the pure scoring rules;
* :mod:`training.real_eval.data`: the material, the edge's settings, the models;
* :mod:`training.real_eval.run`: running the models.
"""
