"""The civicwatch server: MQTT ingest of edge events, case store, review API and pages.

Nothing here creates settings, engines or clients at import time; build the app with
:func:`server.main.create_app`.
"""
