"""Verdicts a model can learn from (issue 18).

A reviewer's verdict may carry a structured reason (:class:`~server.review_labels.model.
StructuredReason`) and, on any case, corrections to the boxes of the case's clean frame:
a detected box moved (``fix``), a missed object added (``add``), a box marked as the wrong
object (``wrong``, with what it really is). Every change is one appended row (reviewer and
time): the audit trail; the current boxes are folded from it by
:func:`~server.review_labels.model.current_boxes`. ``civicwatch dataset export`` reads them.
"""
