"""OpenPGP trust: certificates, detached signatures, n-of-m thresholds, key handling."""
