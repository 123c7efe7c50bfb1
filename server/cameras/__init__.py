"""Camera operators' tools: the camera registry's settings, zone versions, config push to the
edges, snapshots, health and alarms (issue 20, server side)."""
