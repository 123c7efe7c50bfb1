"""Statistics of cases for the command center: counts, confirm rates, time to close, overdue.

:mod:`.facts` reads one bounded row per case (SQL that runs on SQLite and PostgreSQL);
:mod:`.compute` aggregates them in Python (days in Asia/Shanghai, the median), without I/O;
:mod:`.schemas` is the response (``GET /api/v1/stats``).
"""
