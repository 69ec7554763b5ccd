"""PEP 740 publisher identities: pinned Trusted Publishers, verified from Sigstore attestations."""
