"""Data only: example configuration (edge, server, training, zones, broker).

Shipped as ``civicwatch.configs`` (see setup.py) and read with ``importlib.resources``.
"""
