"""The verification report: one entry per locked package; the table and --json come from it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lockkeys._internal.trust.threshold import CountedSigner, ThresholdResult

if TYPE_CHECKING:
    from lockkeys._internal.install.plan import Step


class Status(enum.StrEnum):
    """A package's outcome in a deploy run."""

    VERIFIED_HASH = "verified-by-hash"
    VERIFIED_SIGNATURES = "verified-by-signatures"
    VERIFIED_BOTH = "verified-by-hash-and-signatures"
    UNVERIFIED = "allowed-unverified"
    REFUSED = "refused"
    SKIPPED = "not-for-this-environment"


@dataclass(frozen=True)
class PackageReport:
    """What a deploy run found for one locked package: its status, the file and hash, who
    signed it, why it was refused."""

    name: str
    version: str
    policy: str
    status: Status
    file: str | None = None
    sha256: str | None = None
    source: str | None = None
    threshold: int | None = None
    signers: tuple[CountedSigner, ...] = ()
    reason: str | None = None
    details: tuple[str, ...] = ()
    fix: str | None = None
    local_path: Path | None = field(default=None, compare=False)
    signature_files: tuple[Path, ...] = field(default=(), compare=False)
    threshold_result: ThresholdResult | None = field(default=None, compare=False)
    from_cache: bool = False
    """The verified bytes came from the verified-file cache, not from the source."""
    cache_origin: str | None = None
    """Where the cache first fetched them (when it recorded that)."""

    @property
    def ok(self) -> bool:
        """Whether the package was not refused."""
        return self.status is not Status.REFUSED

    def summary(self) -> str:
        """The outcome in a few words, for the table and the progress lines."""
        text = self._outcome()
        if self.from_cache and self.status is not Status.REFUSED:
            first = f", first fetched from {self.cache_origin}" if self.cache_origin else ""
            text += f" (from the verified-file cache{first})"
        return text

    def _outcome(self) -> str:
        if self.status is Status.REFUSED:
            return f"refused: {self.reason}"
        if self.status in (Status.VERIFIED_SIGNATURES, Status.VERIFIED_BOTH):
            names = ", ".join(s.name or s.fingerprint[-16:] for s in self.signers)
            prefix = "hash and " if self.status is Status.VERIFIED_BOTH else ""
            return f"{prefix}{len(self.signers)} of {self.threshold} signatures ({names})"
        if self.status is Status.VERIFIED_HASH:
            return "sha256 matches the lock"
        if self.status is Status.UNVERIFIED:
            return "NOT VERIFIED (policy 'none')"
        return f"skipped: {self.reason}" if self.reason else "skipped: marker does not apply"

    def to_json(self) -> dict[str, object]:
        """The package in the JSON report."""
        return {
            "name": self.name,
            "version": self.version,
            "policy": self.policy,
            "status": str(self.status),
            "file": self.file,
            "sha256": self.sha256,
            "source": self.source,
            "threshold": self.threshold,
            "signers": [s.to_json() for s in self.signers],
            "reason": self.reason,
            "details": list(self.details),
            "fix": self.fix,
            "from_cache": self.from_cache,
            "cache_origin": self.cache_origin,
        }


@dataclass(frozen=True)
class Finding:
    """One way an installed environment differs from the lock (`verify --installed`)."""

    kind: str  # missing | extra | other-version | file | unowned | bytecode
    package: str  # "" for a file no distribution owns
    detail: str
    file: str | None = None

    def line(self) -> str:
        """The difference as one `kind: where: detail` line."""
        where = ": ".join(p for p in (self.package, self.file) if p)
        return f"{self.kind}: {where}: {self.detail}"

    def to_json(self) -> dict[str, object]:
        """The difference in the JSON report."""
        return {
            "kind": self.kind,
            "package": self.package,
            "file": self.file,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Report:
    """The outcome of a deploy run (verify, download, install, sync, audit): every package,
    the plan and the differences found."""

    lock: str
    python: str
    packages: tuple[PackageReport, ...]
    offline: bool
    installed: bool = False
    installer: str | None = None
    notes: tuple[str, ...] = ()  # e.g. revocations applied, sources not read offline
    plan: tuple[Step, ...] = ()  # install and sync: what was (or, dry run, would be) done
    dry_run: bool = False
    audited: bool = False  # verify --installed
    findings: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether no package was refused."""
        return all(p.ok for p in self.packages)

    @property
    def drifted(self) -> bool:
        """Whether the audit found the environment differs from the lock."""
        return bool(self.findings)

    @property
    def refused(self) -> tuple[PackageReport, ...]:
        """The packages that were refused."""
        return tuple(p for p in self.packages if not p.ok)

    @property
    def unverified(self) -> tuple[PackageReport, ...]:
        """The packages accepted unverified (policy 'none')."""
        return tuple(p for p in self.packages if p.status is Status.UNVERIFIED)

    def to_json(self) -> dict[str, object]:
        """The report as the `--json` document."""
        return {
            "lock": self.lock,
            "python": self.python,
            "offline": self.offline,
            "ok": self.ok,
            "installed": self.installed,
            "installer": self.installer,
            "packages": [p.to_json() for p in self.packages],
            "notes": list(self.notes),
            "plan": [s.to_json() for s in self.plan],
            "dry_run": self.dry_run,
            **(
                {"findings": [f.to_json() for f in self.findings], "drift": self.drifted}
                if self.audited
                else {}
            ),
        }
