"""Offline verification of the evidence chain: a case, an edge's whole chain, a case package.

These functions read the database and the evidence directory directly (the server need
not run) or, for a package, nothing but the package; every check recomputes hashes from
the stored bytes and says exactly what does not match. One module a job:

- :mod:`.report`: :class:`VerifyReport`, the verdict and findings every check returns;
- :mod:`.database`: :func:`verify_edge` and :func:`verify_case`, on what the server stores;
- :mod:`.export`: :func:`export_case`, a self-contained case package;
- :mod:`.package`: :func:`verify_package` and :func:`keys_from_files`, offline.
"""

from server.chain_verify.database import verify_case, verify_edge
from server.chain_verify.export import PACKAGE_VERSION, export_case
from server.chain_verify.package import keys_from_files, verify_package
from server.chain_verify.report import VerifyReport

__all__ = [
    "PACKAGE_VERSION",
    "VerifyReport",
    "export_case",
    "keys_from_files",
    "verify_case",
    "verify_edge",
    "verify_package",
]
