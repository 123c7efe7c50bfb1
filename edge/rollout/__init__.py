"""Model rollout, edge side (issue 18): fetch an assigned model, check it, compare, swap.

:mod:`~edge.rollout.download` fetches the file over HTTP(S) from the server (bearer token,
resumable with ``Range``, written to a temporary file, size and sha256 checked, renamed into
place); :mod:`~edge.rollout.controller` takes the retained assignment message, loads the new
model beside the running one, runs both on a sample of recent frames and records their
agreement, swaps through :meth:`edge.worker.EdgeWorker.swap_detector` and records the applied
revision. Whatever fails, the running model stays and the reason is recorded.
"""
