"""The truck stage on real cameras (issue 16): the road profile's detector, built from a
COCO-pretrained model the operator installs (:mod:`training.truck_stage.road_model`).

Nothing here is shipped with weights: the source file (ultralytics YOLOv8n, AGPL-3.0) stays
where the operator installed it, and the built model is listed by sha256 in the operator's
registry. ``docs/truck-stage.md`` describes the stage and its measured numbers.
"""
