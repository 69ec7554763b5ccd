"""The library surface of lockkeys: what deploy tooling calls from Python.

Every command of the ``lockkeys`` CLI is a function here, taking and returning typed objects;
the CLI parses its options, calls one of these and renders the result. Everything under
``lockkeys._internal`` is internal: its names and signatures may change in any release.
Errors are the exceptions of :mod:`lockkeys.errors` (one root, :class:`LockkeysError`, with
the exit code each kind maps to).
"""

from __future__ import annotations

# -- locking and review (lock, check, diff, gate, why, export) ------------------------------


# -- keys and signatures (key generate/show, sign, verify-signature) ------------------------


# -- deploying (verify, download, install, sync, audit) -------------------------------------
