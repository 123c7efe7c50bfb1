"""Data only: the model registry, the shipped models and their cards.

Shipped as ``civicwatch.models`` (see setup.py) and read with ``importlib.resources``.
"""
