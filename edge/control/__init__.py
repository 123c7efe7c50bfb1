"""The edge's configuration from the server: cameras and zone files, applied without restart.

:mod:`edge.control.validate` checks a config message and turns it into camera specs,
:mod:`edge.control.plan` works out what changes, :mod:`edge.control.store` keeps the last
applied config on disk, :mod:`edge.control.service` receives, applies and reports, and
:mod:`edge.control.runtime` runs an edge with all of it (and health, snapshots, clips).
"""
