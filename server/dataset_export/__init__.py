"""``civicwatch dataset export``: the clean frames of reviewed cases as a YOLO dataset.

:mod:`~server.dataset_export.plan` decides, without I/O, what each reviewed case gives
(labels, a hard negative, or nothing and why), the split and the near-duplicate folding;
:mod:`~server.dataset_export.writer` reads the database and the evidence store (hashes
checked) and writes the dataset into a temporary folder renamed into place at the end.
"""
