"""The case lifecycle: transitions, dispatch and deadlines, disposal, the case file chain."""
