"""The truck-cover classifier: crops from the scene generator, a small CNN, ONNX export.

``python -m training.cover --out models`` writes ``cover-v1.onnx``, its card
``cover-v1.md`` and ``cover-registry.yaml``; the edge runs it through
:class:`edge.rules.cover.OnnxCoverClassifier`.
"""
