"""Which certificate authorities lockkeys trusts, for itself and for the resolvers it runs.

- By default: the operating system's trust store, through ``truststore`` (macOS Keychain,
  Windows certificate store, the system CA files on Linux), so a corporate root CA installed
  on the machine just works.
- Plus ``SSL_CERT_FILE`` when it names a file (a PEM bundle), for every server.
- Plus a source's ``ca-bundle`` (a PEM file) for that source's servers (its URL and mirrors).

:meth:`TrustStore.context_for` gives the ``ssl.SSLContext`` for a URL (one per distinct set of
bundles, built once). :meth:`TrustStore.resolver_bundle_files` lists the PEM files a resolver
subprocess must trust on top of the system store (see ``lockkeys._internal.resolve.runenv``).
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import truststore

from lockkeys.errors import InputError

__all__ = ["TrustStore", "origin_of", "system_ca_file"]


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, the port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if scheme == "https" else 80
    return scheme, (parts.hostname or "").lower(), port


def system_ca_file() -> Path | None:
    """The system's CA bundle file, where there is one (Linux, BSD); None elsewhere."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            return Path(candidate)
    for candidate in (
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
        "/etc/ssl/ca-bundle.pem",
    ):
        if os.path.isfile(candidate):
            return Path(candidate)
    return None


class TrustStore:
    """The trust for each origin: system store + ``SSL_CERT_FILE`` + per-origin bundles."""

    def __init__(
        self,
        bundles: Mapping[tuple[str, str, int], Sequence[Path]] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        cert_file = env.get("SSL_CERT_FILE", "").strip()
        self.cert_file = Path(cert_file) if cert_file and os.path.isfile(cert_file) else None
        self.bundles = {origin: tuple(paths) for origin, paths in (bundles or {}).items()}
        for paths in self.bundles.values():
            for path in paths:
                if not path.is_file():
                    raise InputError(
                        "the ca-bundle file does not exist",
                        file=str(path),
                        fix="point `ca-bundle` at a PEM file holding your private CA",
                    )
        self._contexts: dict[tuple[Path, ...], ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def extra_files(self, url: str) -> tuple[Path, ...]:
        """The PEM files trusted for ``url`` beside the system store."""
        extra = self.bundles.get(origin_of(url), ())
        return ((self.cert_file,) if self.cert_file else ()) + tuple(extra)

    def context_for(self, url: str) -> ssl.SSLContext:
        """The TLS context for ``url``: the system store plus its extra PEM files (one per set)."""
        files = self.extra_files(url)
        with self._lock:
            context = self._contexts.get(files)
            if context is None:
                context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                for path in files:
                    try:
                        context.load_verify_locations(cafile=str(path))
                    except (ssl.SSLError, OSError) as exc:
                        raise InputError(
                            f"cannot read the CA bundle: {exc}",
                            file=str(path),
                            fix="give a PEM file of CA certificates",
                        ) from None
                self._contexts[files] = context
            return context

    def resolver_bundle_files(self) -> tuple[Path, ...]:
        """Every extra PEM file, for resolvers (which cannot trust per origin)."""
        seen: list[Path] = [self.cert_file] if self.cert_file else []
        for paths in self.bundles.values():
            for path in paths:
                if path not in seen:
                    seen.append(path)
        return tuple(seen)
