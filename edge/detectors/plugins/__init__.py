"""Detector plugins: one module per model format, each with its config and ``PLUGIN``.

:mod:`edge.detectors.registry` imports every module here; one that fails to import is
logged and left out.
"""
