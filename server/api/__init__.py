"""HTTP API and pages: thin routes over :mod:`server.crud`."""
