"""Training side of civicwatch: synthetic scenes, offline training, export, evaluation, registry.

``training.scenes`` depends only on numpy, OpenCV and PyAV so that the edge and the demo can
render scenes without torch; the modules that train (``training.train``) import ultralytics
lazily, inside functions.
"""
