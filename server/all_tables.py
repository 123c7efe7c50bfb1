"""Every table module, imported so that ``Base.metadata`` is complete.

The core tables live in :mod:`server.tables`; features with tables of their own (units,
cameras, webhooks, review labels, rollout) keep them in their own package and add one import
here. Alembic's ``env.py`` and the schema test read the metadata through this module.
"""

from __future__ import annotations

from server.cameras import tables as _camera_tables  # noqa: F401
from server.lifecycle import tables as _lifecycle_tables  # noqa: F401
from server.notices import tables as _notice_tables  # noqa: F401
from server.org import tables as _org_tables  # noqa: F401
from server.review_labels import tables as _review_label_tables  # noqa: F401
from server.rollout import tables as _rollout_tables  # noqa: F401
from server.tables import Base
from server.webhooks import tables as _webhook_tables  # noqa: F401

__all__ = ["Base"]
