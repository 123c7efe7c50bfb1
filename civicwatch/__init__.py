"""civicwatch: the command line and the local services it starts (broker, demo)."""

__version__ = "0.1.0"
