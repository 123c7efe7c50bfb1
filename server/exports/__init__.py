"""Hand-off exports: the filtered case list as CSV (:mod:`.table`) and the case package over
HTTP (``GET /api/v1/cases/{id}/package``, built by :func:`server.chain_verify.export_case`,
the one implementation ``civicwatch evidence export`` uses too)."""
