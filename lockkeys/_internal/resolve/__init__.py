"""Resolving requirements into pins with a subprocess resolver (pip-tools or uv)."""
