"""Model rollout, server side (issue 18): registered model files served by sha256 to edges,
assignments to edges or a unit's edges with a canary first, rollback, and the retained
assignment message on each edge's model topic.

Two operators assigning at once: every assignment names the revision it was made against
(the one it read); the update is conditional on it, so one wins and the other gets a
:class:`~server.rollout.service.AssignmentConflictError`.
"""
