"""Fixtures of the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.offline import configure_offline


@pytest.fixture(scope="session")
def ultralytics_offline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ultralytics set up offline for this test process: once, in one folder for every test.

    ultralytics reads its configuration when it is first imported, so every test module that
    imports it in this process must share the same folder.
    """
    return configure_offline(tmp_path_factory.getbasetemp() / "ultralytics")
