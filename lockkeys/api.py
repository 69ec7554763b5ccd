"""The library surface of lockkeys: what deploy tooling calls from Python.

Every command of the ``lockkeys`` CLI is a function here, taking and returning typed objects;
the CLI parses its options, calls one of these and renders the result. Everything under
``lockkeys._internal`` is internal: its names and signatures may change in any release.
Errors are the exceptions of :mod:`lockkeys.errors` (one root, :class:`LockkeysError`, with
the exit code each kind maps to).

Importing this module is cheap: each function imports the machinery it needs (the resolvers,
the OpenPGP engine, the installer) when it is called, and the result types named here are
loaded on first use (``lockkeys.api.LockDiff``). docs/api.md has a worked example.
"""

from __future__ import annotations

# -- locking and review (lock, check, diff, gate, why, export) ------------------------------
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from lockkeys._internal.gate import GateResult as GateResult
    from lockkeys._internal.locking.outcome import LockOutcome as LockOutcome
    from lockkeys._internal.lockmodel.changes import Change as _PackageChange
    from lockkeys._internal.lockmodel.lock import Lock as Lock
    from lockkeys._internal.lockmodel.lock import LockedPackage as LockedPackage
    from lockkeys._internal.lockmodel.views import Why as Why
    from lockkeys._internal.locktrust.lockdiff import Change as _LockChange
    from lockkeys._internal.locktrust.lockdiff import LockDiff as LockDiff
    from lockkeys._internal.locktrust.lockfields import Kind as _ChangeKind
    from lockkeys._internal.openpgp.engine import CertFacts as CertFacts
    from lockkeys._internal.openpgp.engine import KeyFacts as KeyFacts
    from lockkeys._internal.trust.keygen import GeneratedFiles as GeneratedFiles
    from lockkeys._internal.trust.signing import SignedFile as SignedFile
    from lockkeys._internal.trust.threshold import ThresholdResult as ThresholdResult

    # Renamed where the internal name says too little here (three kinds of "Change").
    PackageChange = _PackageChange
    LockChange = _LockChange
    ChangeKind = _ChangeKind

# The result types, by public name: (module, its name there); loaded on first access.
_RESULT_TYPES = {
    "GateResult": ("lockkeys._internal.gate", "GateResult"),
    "PackageChange": ("lockkeys._internal.lockmodel.changes", "Change"),
    "Lock": ("lockkeys._internal.lockmodel.lock", "Lock"),
    "LockedPackage": ("lockkeys._internal.lockmodel.lock", "LockedPackage"),
    "Why": ("lockkeys._internal.lockmodel.views", "Why"),
    "LockOutcome": ("lockkeys._internal.locking.outcome", "LockOutcome"),
    "LockChange": ("lockkeys._internal.locktrust.lockdiff", "Change"),
    "LockDiff": ("lockkeys._internal.locktrust.lockdiff", "LockDiff"),
    "ChangeKind": ("lockkeys._internal.locktrust.lockfields", "Kind"),
    "CertFacts": ("lockkeys._internal.openpgp.engine", "CertFacts"),
    "KeyFacts": ("lockkeys._internal.openpgp.engine", "KeyFacts"),
    "GeneratedFiles": ("lockkeys._internal.trust.keygen", "GeneratedFiles"),
    "SignedFile": ("lockkeys._internal.trust.signing", "SignedFile"),
    "ThresholdResult": ("lockkeys._internal.trust.threshold", "ThresholdResult"),
}


def __getattr__(name: str) -> Any:
    """A result type named in ``_RESULT_TYPES``, imported when first asked for."""
    try:
        module, attribute = _RESULT_TYPES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def lock(
    config: Path | None = None,
    *,
    lock_path: Path | None = None,
    resolver: str | None = None,
    upgrade: Sequence[str] = (),
    upgrade_all: bool = False,
    dry_run: bool = False,
    cache_dir: Path | None = None,
    no_cache: bool = False,
    reuse: bool = True,
    progress: Callable[[str], None] | None = None,
) -> LockOutcome:
    """Resolve the requirements and write the lock with hashes and signer pins (`lock`).

    ``config``: the pyproject.toml or lockkeys.toml (None: the one in the current folder);
    ``lock_path`` (None: its ``lockfile``); ``resolver`` pip-tools or uv (None: configured).
    Pins are kept except for ``upgrade`` (all with ``upgrade_all``); ``dry_run`` writes
    nothing; caches in ``cache_dir`` (None: lockkeys'; ``no_cache``: a fresh one); ``reuse``
    a cached resolution of the same request. Returns a :class:`LockOutcome` (``path``,
    ``lock``, ``written``, ``message``, ``changes`` against the ``previous`` lock).
    Raises UsageError (an unknown resolver or ``upgrade`` name, a missing folder) and
    InputError (the configuration, a certificate): exit 2; VerificationError (a release file
    below its signature threshold): 1; SourceError: 3; ResolutionError: 4.
    """
    from lockkeys._internal.locking.locker import lock as run_lock

    return run_lock(
        config,
        resolver=resolver,
        lock_path=lock_path,
        upgrade=upgrade,
        upgrade_all=upgrade_all,
        dry_run=dry_run,
        cache_dir=cache_dir,
        no_cache=no_cache,
        progress=progress,
        reuse=reuse,
    )


def check(
    config: Path | None = None,
    *,
    lock_path: Path | None = None,
    resolver: str | None = None,
    cache_dir: Path | None = None,
    no_cache: bool = False,
    reuse: bool = True,
    progress: Callable[[str], None] | None = None,
) -> LockOutcome:
    """Whether the lock is what :func:`lock` writes now (`lock --check`); writes nothing.

    Arguments as for :func:`lock`. The :class:`LockOutcome` is ``stale`` when the lock is
    missing, its inputs or certificates changed, or it is not what the configuration and the
    sources give (edited by hand); ``message`` says which. Raises InputError (the
    configuration, a certificate, the lock): exit 2; SourceError: 3; ResolutionError: 4.
    """
    from lockkeys._internal.locking.locker import lock as run_lock

    return run_lock(
        config,
        resolver=resolver,
        lock_path=lock_path,
        check=True,
        cache_dir=cache_dir,
        no_cache=no_cache,
        progress=progress,
        reuse=reuse,
    )


def signer_expiry_warnings(config: Path | None = None) -> list[str]:
    """One line per configured signer certificate that expired or expires within
    ``expiry-warning-days`` (LOCKKEYS_EXPIRY_WARNING_DAYS wins; default 30), as `lock --check`
    warns. Raises InputError (the configuration, a certificate) or UsageError (the variable):
    exit 2."""
    from lockkeys._internal.config import load_config
    from lockkeys._internal.locking.locker import load_signers
    from lockkeys._internal.trust.expiry import expiry_warnings, warning_days

    loaded = load_config(config)
    days = warning_days(loaded.expiry_warning_days)
    return expiry_warnings(load_signers(loaded).values(), days)


def trust_summary(outcome: LockOutcome) -> list[str]:
    """What a re-lock changed in trust (signers, thresholds, policies, certificates), one line
    each, classified as :func:`diff` does; empty for a first lock or a check. Raises nothing."""
    from lockkeys._internal.locktrust.relock import trust_summary as summarize

    if outcome.previous is None or outcome.lock is None:
        return []
    return summarize(outcome.previous, outcome.lock, str(outcome.path))


def diff(
    old: str | Path, new: str | Path, *, config: Path | None = None, lock_path: Path | None = None
) -> LockDiff:
    """What changed between two locks, each trust change classified (`lockkeys diff`).

    ``old`` and ``new`` are lock files or ``git:REF[:PATH]`` (PATH defaults to the other
    side's file, else to ``lock_path``, else :func:`find_lockfile` of ``config``). The
    :class:`LockDiff` holds every :class:`LockChange` (package, field, old, new, its
    :class:`ChangeKind`); ``weakening`` lists those a reviewer must look at.
    Raises UsageError (a bad ``git:`` spec, no git) or InputError (a lock that cannot be read,
    a revision or path git does not have): exit 2.
    """
    from lockkeys._internal.locktrust.lockdiff import diff_specs

    return diff_specs(str(old), str(new), lock_path or find_lockfile(config))


def gate(
    base: str,
    *,
    config: Path | None = None,
    lock_path: Path | None = None,
    verify: bool = True,
    resolver: str | None = None,
) -> GateResult:
    """The pull-request gate (`lockkeys gate`): :func:`check`, :func:`diff` against the lock
    at git revision ``base`` and, with ``verify``, every locked file fetched and verified.

    Other arguments as for :func:`lock`. The :class:`GateResult` says whether the pull request
    must not merge (``failed``, ``reasons``); ``markdown()`` is the CI job summary.
    Raises InputError (the configuration or lock; no lock at ``base``): exit 2; SourceError: 3;
    ResolutionError: 4.
    """
    from lockkeys._internal.gate import run_gate

    return run_gate(config, base, lock_path=lock_path, verify=verify, resolver=resolver)


def why(name: str, *, config: Path | None = None, lock_path: Path | None = None) -> Why:
    """Why a package is in the lock (`lockkeys why`): who requires it, its source, signers,
    threshold, the reason for a substitute. Raises UsageError (not in the lock) or InputError
    (the lock cannot be read): exit 2."""
    from lockkeys._internal.lockmodel.io import read_lock
    from lockkeys._internal.lockmodel.views import why as explain

    return explain(read_lock(lock_path or find_lockfile(config)), name)


class ExportResult(NamedTuple):
    """What :func:`export` made, and the lock signature check it passed first."""

    text: str  # the requirements file or plain PEP 751 lock
    signature: ThresholdResult | None  # None: no lock signer was required
    output: Path | None  # where the text was written (None: nowhere)


def export(
    lock_path: Path,
    *,
    format: str = "requirements",
    extras: Sequence[str] = (),
    groups: Sequence[str] | None = None,
    output: Path | None = None,
    lock_signers: Sequence[Path] = (),
    lock_threshold: int | None = None,
) -> ExportResult:
    """The lock as a ``--require-hashes`` requirements file or a plain PEP 751 lock (`format`
    ``requirements`` or ``pylock``; `lockkeys export`), written atomically to ``output`` if
    given. A requirements file also has what ``extras`` and ``groups`` need (None: the lock's
    default groups). The lock must pass the deploy commands' signature rule first:
    ``lock_threshold`` (default 1) of ``lock_signers``, else of the environment's
    LOCKKEYS_LOCK_SIGNERS (and LOCKKEYS_LOCK_THRESHOLD), else none is required.

    Raises UsageError (a format, extra or group; ``output`` a folder or in none; a threshold
    without signers) or InputError (the lock, a certificate): exit 2; VerificationError (the
    lock's signatures do not meet the threshold): exit 1.
    """
    from lockkeys._internal.fsutil import atomic_write
    from lockkeys._internal.lockmodel.selection import chosen
    from lockkeys._internal.lockmodel.views import export_pylock, export_requirements
    from lockkeys.errors import UsageError

    if output is not None and not output.parent.is_dir():
        raise UsageError(
            f"cannot write {output}: the folder {output.parent} does not exist",
            file=str(output),
            fix="create the folder first, or pass another -o path",
        )
    if output is not None and output.is_dir():
        raise UsageError(f"cannot write {output}: it is a folder", file=str(output))
    if format not in ("requirements", "pylock"):
        raise UsageError(f"unknown export format {format!r}", expected="requirements or pylock")
    # What is exported is what a deploy would accept: the same bytes, the same signature rule.
    opened = open_lock(lock_path, lock_signers=lock_signers, lock_threshold=lock_threshold)
    if format == "requirements":
        chosen_extras, chosen_groups = chosen(opened.lock, extras, groups, str(lock_path))
        text = export_requirements(
            opened.lock,
            extras=chosen_extras,
            groups=chosen_groups,
            lock_dir=lock_path.resolve().parent,
            dest_dir=(output.resolve().parent if output is not None else Path.cwd()),
        )
    else:
        text = export_pylock(opened.lock)
    if output is not None:
        atomic_write(output, text.encode("utf-8"))
    return ExportResult(text=text, signature=opened.signature, output=output)


# -- keys and signatures (key generate/show, sign, verify-signature) ------------------------


def generate_key(
    name: str,
    *,
    out_dir: Path = Path("keys"),
    user_id: str | None = None,
    expires: str | None = None,
    passphrase_file: Path | None = None,
    algorithm: str = "ed25519",
    replaces: Path | None = None,
    replaces_passphrase_file: Path | None = None,
) -> GeneratedFiles:
    """Generate a signing key (`lockkeys key generate`): NAME.asc, NAME.secret.asc (0600),
    NAME.revocation.asc in ``out_dir``, never overwritten. ``expires``: 2y, 18m, 6w, 30d, a
    date or never (None); ``algorithm``: ed25519, rsa3072, rsa4096; with ``replaces`` (the old
    secret key) the old key certifies the new one, which :func:`diff` shows as a rotation.
    Returns :class:`GeneratedFiles`. Raises UsageError (a name, expiry or algorithm; a file
    that exists) or InputError (a passphrase file, the ``replaces`` key): exit 2.
    """
    from lockkeys._internal.trust.keygen import generate_key as generate

    return generate(
        name,
        out_dir=out_dir,
        user_id=user_id,
        expires=expires,
        passphrase_file=passphrase_file,
        algorithm=algorithm,
        replaces=replaces,
        replaces_passphrase_file=replaces_passphrase_file,
    )


def show_key(path: Path) -> CertFacts:
    """A certificate's or secret key's :class:`CertFacts` (`lockkeys key show`): fingerprint,
    user IDs, each key's algorithm, capabilities, expiry and revocation. Raises InputError (not
    one readable OpenPGP key): exit 2."""
    from lockkeys._internal.trust.certs import load_key_any

    return load_key_any(path)


def sign(
    files: Sequence[Path],
    key: Path,
    *,
    out_dir: Path | None = None,
    passphrase_file: Path | None = None,
) -> list[SignedFile]:
    """Sign each file with the secret ``key`` (`lockkeys sign`): a detached armored signature
    joins those already in ``FILE.asc`` (beside the file, or in ``out_dir``).

    Returns one :class:`SignedFile` per file (the signature file, the signer, how many
    signatures it holds). Raises UsageError (no such file) or InputError (the key, the
    passphrase file, an existing signature file): exit 2.
    """
    from lockkeys._internal.trust.signing import sign_files

    return sign_files(list(files), key, out_dir=out_dir, passphrase_file=passphrase_file)


def verify_signature(
    files: Sequence[Path],
    signers: Sequence[Path],
    *,
    signatures: Sequence[Path] = (),
    threshold: int = 1,
) -> list[ThresholdResult]:
    """Whether ``threshold`` distinct ``signers`` (certificate files) validly signed each file
    (`lockkeys verify-signature`); signatures from ``FILE.asc``, or ``signatures`` for a
    single file.

    Returns one :class:`ThresholdResult` per file: ``met``, ``summary()``, ``explain()``;
    ``require()`` raises VerificationError (exit 1) when not met. Raises UsageError (no such
    file, ``signatures`` with several files) or InputError (a certificate or signature
    file): exit 2.
    """
    from lockkeys._internal.trust.verify import verify_files

    return verify_files(files, signers, signatures=signatures, threshold=threshold)


# -- deploying (verify, download, install, sync, audit) -------------------------------------
#
# The lock is opened once, at the top (:func:`open_request`: read once, its lock signatures
# checked over those bytes, the same bytes parsed); the entry points take the request it
# returns and return the typed :class:`Report` of the run. Nothing installs unless every
# package verified; a refusal is a report (``report.ok`` False), a source that cannot be
# reached raises :class:`~lockkeys.errors.SourceError`.

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from pathlib import Path

    from lockkeys._internal.install.report import Report as Report
    from lockkeys._internal.install.request import DeployRequest as DeployRequest
    from lockkeys._internal.install.request import Progress as Progress
    from lockkeys._internal.locktrust.locksignature import DeployLock as DeployLock


def find_lockfile(config: Path | None = None) -> Path:
    """The lock a project uses: ``config``'s `lockfile`, else the one found in the current
    folder's lockkeys.toml or pyproject.toml, else ./pylock.toml."""
    from lockkeys._internal.lockmodel.locate import find_lockfile as locate

    return locate(config)


def choose_python(python: str | None, *, project_dir: Path, required: bool) -> str | None:
    """The target interpreter: ``python``, else the active virtual environment, else .venv in
    ``project_dir``; ``required`` False allows None (the running interpreter)."""
    from lockkeys._internal.install.target import choose_python as choose

    return choose(python, project_dir=project_dir, required=required)


def open_lock(
    lock_path: Path, *, lock_signers: Sequence[Path] = (), lock_threshold: int | None = None
) -> DeployLock:
    """Read the lock once and require its signatures (``lock_signers``, else
    ``LOCKKEYS_LOCK_SIGNERS`` / ``LOCKKEYS_LOCK_THRESHOLD``; none: no requirement), then parse
    those very bytes; a refused lock raises VerificationError before anything was parsed."""
    from lockkeys._internal.locktrust.locksignature import lock_signature_policy
    from lockkeys._internal.locktrust.locksignature import open_lock as open_signed

    return open_signed(lock_path, lock_signature_policy(lock_signers, lock_threshold))


def open_request(
    lock_path: Path,
    *,
    lock_signers: Sequence[Path] = (),
    lock_threshold: int | None = None,
    python: str | None = None,
    wheelhouse: Path | None = None,
    extras: Sequence[str] = (),
    groups: Sequence[str] | None = None,
    cache_dir: Path | bool | None = True,
    timeout: float | None = None,
    installer: str | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> DeployRequest:
    """Open and verify the lock once (as :func:`open_lock`) and build the request every
    deploy function takes. ``groups`` None: the lock's default groups; ``cache_dir`` True:
    the default verified-file cache, None/False: none; ``timeout`` (seconds per network read)
    and ``installer`` (builtin, pip or uv) None: their defaults."""
    from dataclasses import replace

    from lockkeys._internal.install.request import DeployRequest

    request = DeployRequest(
        lock=open_lock(lock_path, lock_signers=lock_signers, lock_threshold=lock_threshold),
        python=python,
        wheelhouse=wheelhouse,
        extras=tuple(extras),
        groups=None if groups is None else tuple(groups),
        cache_dir=cache_dir,
        now=now,
        progress=progress,
    )
    if timeout is not None:
        request = replace(request, timeout=timeout)
    if installer is not None:
        request = replace(request, installer=installer)
    return request


def expiry_warnings(lock: DeployLock) -> list[str]:
    """One line per certificate pinned in the lock that expired or expires soon (within
    LOCKKEYS_EXPIRY_WARNING_DAYS, default 30); a warning never refuses by itself."""
    from lockkeys._internal.locktrust.keyring import lock_keyring
    from lockkeys._internal.trust.expiry import expiry_warnings as warnings
    from lockkeys._internal.trust.expiry import warning_days

    if not lock.lock.tool.signers:
        return []
    return warnings(lock_keyring(lock.lock, str(lock.path)), warning_days())


def verify(request: DeployRequest) -> Report:
    """Fetch (or read from the request's wheelhouse) and verify every package; install nothing."""
    from lockkeys._internal.install import pipeline

    return pipeline.verify(request)


def download(request: DeployRequest, dest: Path) -> Report:
    """Verify every file the target needs, then keep only verified files (and their
    signatures) in ``dest``."""
    from lockkeys._internal.install import pipeline

    return pipeline.download(request, dest)


def install(request: DeployRequest, *, dry_run: bool = False) -> Report:
    """Verify everything, then install or upgrade what is missing, other or altered, in one
    transaction (all or nothing); ``dry_run`` only reports the plan."""
    from lockkeys._internal.install import pipeline

    return pipeline.install(request, dry_run=dry_run)


def sync(request: DeployRequest, *, dry_run: bool = False) -> Report:
    """Like :func:`install`, and also remove the distributions the lock does not hold."""
    from lockkeys._internal.install import pipeline

    return pipeline.install(request, sync=True, dry_run=dry_run)


def audit(request: DeployRequest) -> Report:
    """`verify --installed`: the target against the lock (missing, extra and other-version
    distributions, installed files that differ from the verified wheel's RECORD); the
    differences are ``report.findings``."""
    from lockkeys._internal.install import pipeline

    return pipeline.audit(request)
