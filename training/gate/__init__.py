"""``civicwatch models gate``: may a retrained model replace the running one?

Both models run on the same three materials, each through the edge's own detector plugin:
the frozen test split of a reviewed-case export (:mod:`~training.gate.reviewed`), the
held-out rendered scenes (:func:`training.evaluate.evaluate_holdout`) and the real-image
table (:mod:`training.real_eval`, skipped with the reason when the shared data is absent).
:mod:`~training.gate.decide` passes the candidate only when it makes fewer false cases and
loses no more than 1 point of recall anywhere; :mod:`~training.gate.report` writes the
JSON and Markdown report that ``civicwatch publish --gate-report`` records.
"""
