"""lockkeys: a requirements lock with pinned n-of-m signer keys, and an installer for it."""

__version__ = "0.1.0"
