"""How the resolver subprocesses run: credentials, trust, proxies and caches.

The resolvers (pip-compile, uv) stay isolated from the user's pip and uv configuration; what
they need from lockkeys is handed to them here, never on a command line that ``ps`` shows:

- **credentials**: a netrc file holding the credentials lockkeys found for each source (in
  its usual order: URL, netrc, environment, keyring), written into a private folder (mode
  0700, the file 0600) that lives only as long as the run, named by ``NETRC`` in the child's
  environment. pip (through requests) and uv both read ``NETRC``;
- **trust**: the same trust as lockkeys' own requests: a bundle of the system CA file plus
  ``SSL_CERT_FILE`` plus every ``ca-bundle``. uv gets it as ``SSL_CERT_FILE`` (or, on systems
  without a CA file, ``UV_SYSTEM_CERTS=1``); pip, which uses the system store already, gets it
  as ``PIP_CERT`` (and ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, which pip prefers) when
  there are extra CAs;
- **proxies**: ``HTTPS_PROXY`` / ``NO_PROXY`` pass through; the resolution view on 127.0.0.1
  is added to ``NO_PROXY``;
- **caches**: a persistent folder per resolver under lockkeys' own cache directory
  (``LOCKKEYS_CACHE_DIR``, else ``$XDG_CACHE_HOME/lockkeys``, else ``~/.cache/lockkeys``),
  so a second lock does not start cold; ``--no-cache`` gives each run a fresh one. Before a
  resolver runs, its folder is swept of FIFOs, devices and sockets (with a warning each): uv
  and pip would block on one until the resolver's timeout.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from lockkeys._internal.fsutil import sweep_cache_folder
from lockkeys._internal.sources.auth import AuthRegistry, Credentials
from lockkeys._internal.sources.tls import TrustStore, origin_of, system_ca_file

__all__ = ["ResolverSettings", "default_cache_dir"]


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """lockkeys' own cache folder (never the user's pip or uv cache)."""
    env = os.environ if environ is None else environ
    named = env.get("LOCKKEYS_CACHE_DIR", "").strip()
    if named:
        return Path(named).expanduser()
    xdg = env.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path("~/.cache").expanduser()
    return base / "lockkeys"


def _netrc_token(value: str) -> str:
    """A netrc token; values with spaces or quotes are quoted (Python, requests and uv read
    quoted tokens)."""
    if value and not any(c.isspace() or c in "\"'\\#" for c in value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


@dataclass(frozen=True)
class ResolverSettings:
    """Everything about running a resolver that is not the resolution request itself."""

    credentials: Mapping[str, Credentials] = field(default_factory=dict, repr=False)
    """Host name -> credentials (netrc is by host name)."""
    ca_files: tuple[Path, ...] = ()
    """PEM files to trust beside the system store."""
    cache_dir: Path | None = None
    """Persistent cache root (a folder per resolver inside); None: a fresh cache per run."""
    no_proxy: tuple[str, ...] = ()
    """Hosts the resolver must reach directly (the resolution view)."""
    progress: Callable[[str], None] | None = field(default=None, compare=False)
    """Told every few seconds while a resolver runs (``lockkeys lock`` prints it)."""

    @classmethod
    def for_sources(
        cls,
        urls: Sequence[str],
        auth: AuthRegistry,
        trust: TrustStore,
        *,
        cache_dir: Path | None,
        progress: Callable[[str], None] | None = None,
    ) -> ResolverSettings:
        """Settings for resolving against ``urls``: their credentials, trust and cache."""
        credentials: dict[str, Credentials] = {}
        for url in urls:
            found = auth.credentials_with_keyring(url)
            host = origin_of(url)[1]
            if found is not None and host not in credentials:
                credentials[host] = found
        return cls(
            credentials=credentials,
            ca_files=trust.resolver_bundle_files(),
            cache_dir=cache_dir,
            progress=progress,
        )

    def with_no_proxy(self, *hosts: str) -> ResolverSettings:
        """The same settings, with these hosts reached without a proxy."""
        return replace(self, no_proxy=hosts)

    def cache_for(self, resolver: str, fresh: Path) -> Path:
        """The cache folder for ``resolver``: persistent when configured, else ``fresh``."""
        if self.cache_dir is None:
            return fresh
        path = self.cache_dir / resolver
        path.mkdir(parents=True, exist_ok=True)
        sweep_cache_folder(path)  # a FIFO there would hang the resolver until its timeout
        return path

    @contextlib.contextmanager
    def child_environment(self, resolver: str) -> Iterator[dict[str, str]]:
        """The variables to set in the resolver's environment, with the private files they
        name; the files are deleted when the block ends."""
        with tempfile.TemporaryDirectory(prefix="lockkeys-child-") as tmp:
            private = Path(tmp)
            private.chmod(0o700)
            env: dict[str, str] = {}
            netrc = private / "netrc"
            lines = [
                f"machine {host} login {_netrc_token(c.username)} "
                f"password {_netrc_token(c.password)}"
                for host, c in sorted(self.credentials.items())
            ]
            fd = os.open(netrc, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + ("\n" if lines else ""))
            # Always set: the child must not read the user's own ~/.netrc behind our back.
            env["NETRC"] = str(netrc)
            bundle = self._bundle(private, resolver)
            if resolver == "uv":
                if bundle is not None:
                    env["SSL_CERT_FILE"] = str(bundle)
                else:
                    env["UV_SYSTEM_CERTS"] = "1"
            elif bundle is not None:
                # pip takes REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE over PIP_CERT: set all three.
                for name in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
                    env[name] = str(bundle)
            if self.no_proxy:
                current = os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or ""
                entries = [e for e in current.split(",") if e.strip()]
                entries += [h for h in self.no_proxy if h not in entries]
                env["NO_PROXY"] = env["no_proxy"] = ",".join(entries)
            yield env

    def _bundle(self, private: Path, resolver: str) -> Path | None:
        """A PEM bundle for the child: the system CA file plus the extras, whether the
        resolver adds a bundle to the system store or replaces the store with it. uv gets one
        always (it would otherwise trust only its own roots); pip only with extras (it uses
        the system store by default)."""
        if resolver != "uv" and not self.ca_files:
            return None
        files: list[Path] = []
        system = system_ca_file()
        if system is not None:
            files.append(system)
        for path in self.ca_files:
            if not any(_same(path, f) for f in files):
                files.append(path)
        if not files:
            return None
        bundle = private / "ca-bundle.pem"
        with bundle.open("wb") as out:
            for path in files:
                data = path.read_bytes()
                out.write(data if data.endswith(b"\n") else data + b"\n")
        return bundle


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b
