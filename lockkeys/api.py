"""The library surface of lockkeys (filled in below)."""
