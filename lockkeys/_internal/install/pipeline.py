"""verify, download and install: the deploy gate, as a library.

The lock is read once: when lock signers are required (a ``lock_signature`` policy, else
``LOCKKEYS_LOCK_SIGNERS`` / ``LOCKKEYS_LOCK_THRESHOLD`` in the environment), its signatures
are checked over those bytes, and only those bytes are parsed and used
(:func:`lockkeys._internal.install.request.open_request`, which builds the
:class:`~lockkeys._internal.install.request.DeployRequest` every entry point here takes); a
refused lock raises VerificationError before anything is fetched (threat-model row 20).

Every package is verified into a private temporary folder before anything is installed; if
any package is refused nothing reaches the target environment (all or nothing, threat-model
row 19). Then the installer runs on exactly those files with the hashes computed here.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from lockkeys._internal.fsutil import atomic_write
from lockkeys._internal.install.applicable import check_target, check_unambiguous
from lockkeys._internal.install.apply import apply_plan, findings
from lockkeys._internal.install.cache import FileCache, default_cache_dir
from lockkeys._internal.install.environment import TargetEnvironment, probe
from lockkeys._internal.install.installer import check_installer
from lockkeys._internal.install.plan import make_plan
from lockkeys._internal.install.recovery import recover
from lockkeys._internal.install.report import Report
from lockkeys._internal.install.request import DeployRequest
from lockkeys._internal.install.signals import signals_raise
from lockkeys._internal.install.verifying import Verified, verify_into
from lockkeys._internal.install.workdir import private_workdir, sweep_stale_workdirs
from lockkeys._internal.lockmodel.selection import chosen
from lockkeys._internal.sources.session import sources_session
from lockkeys._internal.trust.signatures import armor_signatures


@contextlib.contextmanager
def _verified(request: DeployRequest) -> Iterator[tuple[Verified, TargetEnvironment]]:
    """Verify every package into a private folder (mode 0700) that lives as long as the block."""
    lock, lock_path = request.lock.lock, request.lock.path
    env = probe(request.python)
    check_target(lock, env, lock_path)  # before anything is fetched
    chosen_extras, chosen_groups = chosen(lock, request.extras, request.groups, str(lock_path))
    check_unambiguous(lock, env, chosen_extras, chosen_groups, lock_path)
    root = Path(tempfile.gettempdir())
    sweep_stale_workdirs(root)
    cache_dir = request.cache_dir
    cache = FileCache(default_cache_dir()) if cache_dir is True else FileCache(cache_dir or None)
    with private_workdir(root) as workdir:
        # The lock's sources give their servers' credentials (netrc, the environment
        # variables the lock names, keyring) and trust to every fetch of this run.
        with sources_session(lock.tool.sources):
            verified = verify_into(
                request, env, workdir, extras=chosen_extras, groups=chosen_groups, cache=cache
            )
        yield verified, env


def verify(request: DeployRequest) -> Report:
    """Fetch (or read from the request's wheelhouse) and verify every package; install nothing."""
    with _verified(request) as (verified, _env):
        return verified.report


def download(request: DeployRequest, dest: Path) -> Report:
    """Verify, then keep only verified files (and their signatures) in ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with _verified(request) as (verified, _env):
        for pkg in verified.report.packages:
            if pkg.file is None:
                continue
            target = dest / pkg.file
            if pkg.ok and pkg.local_path is not None:
                atomic_write(target, pkg.local_path.read_bytes())
                packets = verified.signatures.get(pkg.file)
                if packets:
                    atomic_write(Path(f"{target}.asc"), armor_signatures(packets).encode())
            else:
                # Never leave an unverified copy behind under a verified name.
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
        return verified.report


def install(request: DeployRequest, *, sync: bool = False, dry_run: bool = False) -> Report:
    """Verify everything, then make the target hold exactly the verified files.

    Packages already installed at the locked version and intact are kept; the rest are
    installed with the request's installer in one transaction (all or nothing). ``sync`` also
    removes distributions that are not in the lock; ``dry_run`` only reports the plan. Nothing
    is installed unless every package passed verification.
    """
    installer = request.installer
    check_installer(installer)
    with signals_raise(), _verified(request) as (verified, env):
        report = verified.report
        if not report.ok:
            return report
        if not dry_run and recover(Path(env.prefix)):
            env = probe(request.python)  # an interrupted earlier run was undone: look again
        steps = make_plan(report.packages, env, remove_extras=sync)
        report = replace(report, plan=steps, dry_run=dry_run, installer=installer)
        if dry_run or not any(s.changes for s in steps):
            return replace(report, installed=not dry_run)
        if request.progress:
            request.progress("*", "install")
        apply_plan(steps, report, env, installer, verified.workdir)
        return replace(report, installed=True)


def audit(request: DeployRequest) -> Report:
    """`verify --installed`: the target against the lock. Missing, extra and other-version
    distributions, and every installed file whose hash differs from the locked, verified
    wheel's own RECORD. The locked files are verified first (from the cache or the source)."""
    with _verified(request) as (verified, env):
        report = verified.report
        if not report.ok:
            return report
        steps = make_plan(report.packages, env, remove_extras=True)
        found = [f for step in steps for f in findings(step)]
        return replace(report, plan=steps, findings=tuple(found), audited=True)
