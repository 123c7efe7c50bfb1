"""The organisation: units in a tree (市 → 区 → 街镇 → teams), the camera registry, scoping."""
