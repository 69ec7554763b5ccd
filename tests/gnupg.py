"""A small GnuPG harness for interop tests: real `gpg` and `gpgv` as an independent oracle.

Every call runs `gpg --homedir HOME --batch --yes --no-tty --pinentry-mode loopback
--passphrase ''` (keys are unprotected), optionally at a faked, frozen time
(`--faked-system-time 20200101T000000!`), and reads machine-readable status lines.
All user IDs carry `(TEST ONLY)`. Test code only: never used by lockkeys itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

GPG = shutil.which("gpg")
GPGV = shutil.which("gpgv")
GPGCONF = shutil.which("gpgconf")

REVOCATION_REASONS = {
    0: "no reason",
    1: "compromised",
    2: "superseded",
    3: "no longer used",
}


class GnuPGError(RuntimeError):
    pass


@dataclass(frozen=True)
class Run:
    """The outcome of one gpg/gpgv call: exit code, `[GNUPG:]` status lines, outputs."""

    returncode: int
    status: tuple[str, ...]
    stderr: str
    stdout: str = ""

    def keywords(self) -> list[str]:
        return [line.split()[0] for line in self.status if line]

    def lines(self, keyword: str) -> list[list[str]]:
        """The arguments of every status line with this keyword."""
        return [line.split()[1:] for line in self.status if line.split()[:1] == [keyword]]


def faked(when: str | None) -> list[str]:
    """`20200101T000000` -> the option freezing gpg's clock at that UTC time."""
    if when is None:
        return []
    return ["--faked-system-time", when if when.endswith("!") else when + "!"]


def _status(text: str) -> tuple[str, ...]:
    prefix = "[GNUPG:] "
    return tuple(line[len(prefix) :] for line in text.splitlines() if line.startswith(prefix))


def make_home() -> Path:
    """A fresh GNUPGHOME with a short path (the agent socket path must stay under ~100 chars)."""
    return Path(tempfile.mkdtemp(prefix="lkg.", dir="/tmp"))


class GnuPG:
    """One throwaway GnuPG home. Call :meth:`close` (or use as a context manager) at the end."""

    def __init__(self, home: Path | None = None, faked_time: str | None = None) -> None:
        if GPG is None:
            raise GnuPGError("gpg is not installed")
        self.home = Path(home) if home is not None else make_home()
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.home, 0o700)
        self.faked_time = faked_time
        self._counter = 0

    def __enter__(self) -> GnuPG:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop this home's agent and remove the home."""
        if GPGCONF is not None:
            subprocess.run(
                [GPGCONF, "--homedir", str(self.home), "--kill", "all"],
                capture_output=True,
                check=False,
                timeout=30,
            )
        shutil.rmtree(self.home, ignore_errors=True)

    # -- running -----------------------------------------------------------------------------

    def run(
        self,
        *args: str | Path,
        at: str | None = None,
        stdin: bytes | None = None,
        check: bool = True,
        batch: bool = True,
    ) -> Run:
        """Run gpg with the harness options; status lines come from `--status-file`.

        ``batch=False`` is for the prompts gpg refuses to answer in batch mode
        (`--gen-revoke`); answers then come from ``stdin`` via `--command-fd 0`.
        """
        when = at if at is not None else self.faked_time
        status_file = self._tmp(".status")
        argv = [
            str(GPG),
            "--homedir",
            str(self.home),
            *(["--batch"] if batch else []),
            "--yes",
            "--no-tty",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--status-file",
            str(status_file),
            *faked(when),
            *(str(a) for a in args),
        ]
        proc = subprocess.run(argv, input=stdin, capture_output=True, check=False, timeout=120)
        status = status_file.read_text("utf-8", "replace") if status_file.exists() else ""
        result = Run(
            proc.returncode,
            _status(status),
            proc.stderr.decode("utf-8", "replace"),
            proc.stdout.decode("utf-8", "replace"),
        )
        if check and proc.returncode != 0:
            raise GnuPGError(
                f"gpg {' '.join(str(a) for a in args)} exited {proc.returncode}:\n"
                f"{result.stderr}\n" + "\n".join(result.status)
            )
        return result

    def _tmp(self, suffix: str) -> Path:
        self._counter += 1
        return self.home / f"out{self._counter}{suffix}"

    # -- keys --------------------------------------------------------------------------------

    def gen_key(
        self,
        uid: str,
        algo: str = "ed25519",
        usage: str = "sign,cert",
        expire: str = "0",
        at: str | None = None,
    ) -> str:
        """`--quick-gen-key`; returns the primary fingerprint."""
        if "(TEST ONLY)" not in uid:
            raise GnuPGError(f"test keys must say (TEST ONLY) in their user ID: {uid!r}")
        run = self.run("--quick-gen-key", uid, algo, usage, expire, at=at)
        created = [args for args in run.lines("KEY_CREATED") if args[0] in ("P", "B")]
        return created[0][1]

    def add_subkey(
        self,
        fpr: str,
        algo: str = "ed25519",
        usage: str = "sign",
        expire: str = "0",
        at: str | None = None,
    ) -> str:
        """`--quick-add-key`; returns the new subkey's fingerprint."""
        run = self.run("--quick-add-key", fpr, algo, usage, expire, at=at)
        return next(args[1] for args in run.lines("KEY_CREATED") if args[0] == "S")

    def set_expire(
        self,
        fpr: str,
        expire: str,
        subkey_fprs: Sequence[str] | None = None,
        at: str | None = None,
    ) -> None:
        """`--quick-set-expire` on the primary, or on the given subkeys."""
        self.run("--quick-set-expire", fpr, expire, *(subkey_fprs or ()), at=at)

    def revoke_key(self, fpr: str, reason_code: int, at: str | None = None) -> bytes:
        """Make a revocation certificate (reason 0-3, see REVOCATION_REASONS), import it."""
        if reason_code not in REVOCATION_REASONS:
            raise GnuPGError(f"unknown revocation reason {reason_code}")
        out = self._tmp(".rev")
        # Prompts: "Create a revocation certificate?" y, reason, description (empty), "Okay?" y.
        answers = f"y\n{reason_code}\n\ny\n".encode()
        args = ["--command-fd", "0", "--output", str(out), "--gen-revoke", fpr]
        self.run(*args, at=at, stdin=answers, batch=False)
        self.run("--import", out, at=at)
        return out.read_bytes()

    def revoke_subkey(
        self, fpr: str, subkey_fpr: str, reason_code: int, at: str | None = None
    ) -> None:
        """`--edit-key FPR` / `key N` / `revkey` with a reason (0-3), then `save`."""
        index = self.subkey_fingerprints(fpr).index(subkey_fpr.upper()) + 1
        answers = f"key {index}\nrevkey\ny\n{reason_code}\n\ny\nsave\n".encode()
        self.run("--command-fd", "0", "--edit-key", fpr, at=at, stdin=answers)

    def subkey_fingerprints(self, fpr: str) -> list[str]:
        """Subkey fingerprints of a key, in gpg's order (the order `key N` uses)."""
        argv = [str(GPG), "--homedir", str(self.home), "--batch", "--with-colons"]
        argv += ["--with-subkey-fingerprints", "--list-keys", fpr]
        text = subprocess.run(argv, capture_output=True, check=True, timeout=60).stdout.decode()
        fprs: list[str] = []
        in_sub = False
        for line in text.splitlines():
            fields = line.split(":")
            if fields[0] in ("pub", "sub"):
                in_sub = fields[0] == "sub"
            elif fields[0] == "fpr" and in_sub:
                fprs.append(fields[9])
        return fprs

    def keygrips(self, fpr: str) -> list[str]:
        """Keygrips of the primary key, then of each subkey (for `addkey` of an existing key)."""
        text = self.run("--with-colons", "--with-keygrip", "--list-keys", fpr).stdout
        return [line.split(":")[9] for line in text.splitlines() if line.startswith("grp:")]

    def add_existing_subkey(self, fpr: str, keygrip: str, at: str | None = None) -> str:
        """`--expert --edit-key FPR addkey` "(13) Existing key": the same key material again."""
        answers = f"addkey\n13\n{keygrip}\nQ\n0\nsave\n".encode()
        run = self.run("--expert", "--command-fd", "0", "--edit-key", fpr, at=at, stdin=answers)
        return next(args[1] for args in run.lines("KEY_CREATED") if args[0] == "S")

    def export(self, fpr: str, *, armor: bool = True) -> bytes:
        """The public certificate as gpg exports it (all components, no filtering)."""
        out = self._tmp(".asc" if armor else ".gpg")
        self.run("--export", *(["--armor"] if armor else []), "--output", out, fpr)
        return out.read_bytes()

    def export_secret(self, fpr: str) -> bytes:
        out = self._tmp(".sec")
        self.run("--export-secret-keys", "--armor", "--output", out, fpr)
        return out.read_bytes()

    def import_(self, data: bytes | Path) -> Run:
        if isinstance(data, bytes):
            path = self._tmp(".imp")
            path.write_bytes(data)
            data = path
        return self.run("--import", data)

    # -- signatures --------------------------------------------------------------------------

    def sign(
        self,
        key: str,
        file: Path,
        *,
        digest: str = "SHA256",
        at: str | None = None,
        notation: str | None = None,
        armor: bool = True,
        textmode: bool = False,
        sig_expire: str | None = None,
        out: Path | None = None,
        extra: Sequence[str] = (),
    ) -> Path:
        """`--detach-sign` with exactly ``key`` (a `!` is added: no subkey substitution)."""
        out = out or self._tmp(".asc" if armor else ".sig")
        args: list[str | Path] = ["--local-user", key if key.endswith("!") else key + "!"]
        args += ["--digest-algo", digest]
        if digest.upper() in ("SHA1", "MD5", "RIPEMD160"):
            args.append("--allow-weak-digest-algos")
        if notation is not None:
            args += ["--sig-notation", notation]
        if sig_expire is not None:
            args += ["--default-sig-expire", sig_expire]
        if textmode:
            args.append("--textmode")
        if armor:
            args.append("--armor")
        args += [*extra, "--output", out, "--detach-sign", file]
        self.run(*args, at=at)
        return out

    def keyring(self, *fprs: str) -> Path:
        """A binary keyring file (for `gpgv --keyring`) holding these certificates."""
        out = self._tmp(".kbx.gpg")
        self.run("--export", "--output", out, *fprs)
        return out


def dearmor(armored: Path, out: Path) -> Path:
    """`gpg --dearmor`: an armored certificate into a binary keyring file for gpgv."""
    home = Path(tempfile.mkdtemp(prefix="lkd.", dir="/tmp"))
    try:
        argv = [str(GPG), "--homedir", str(home), "--batch", "--yes", "--dearmor"]
        argv += ["--output", str(out), str(armored)]
        subprocess.run(argv, capture_output=True, check=True, timeout=60)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return out


def gpgv(keyring: Path, signature: Path, file: Path) -> Run:
    """`gpgv --keyring KEYRING SIG FILE` with status lines; a clean GNUPGHOME each time.

    gpgv has no faked clock: it judges at the real current time.
    """
    if GPGV is None:
        raise GnuPGError("gpgv is not installed")
    home = Path(tempfile.mkdtemp(prefix="lkv.", dir="/tmp"))
    try:
        argv = [str(GPGV), "--homedir", str(home), "--status-fd", "1"]
        argv += ["--keyring", str(Path(keyring).resolve()), str(signature), str(file)]
        proc = subprocess.run(argv, capture_output=True, check=False, timeout=60)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return Run(
        proc.returncode,
        _status(proc.stdout.decode("utf-8", "replace")),
        proc.stderr.decode("utf-8", "replace"),
    )


def split_armored(data: bytes) -> list[bytes]:
    """The armor blocks of a file, each as bytes (for joining signature files)."""
    blocks: list[bytes] = []
    current: list[str] = []
    for line in data.decode("ascii").splitlines(keepends=True):
        current.append(line)
        if line.startswith("-----END PGP"):
            blocks.append("".join(current).encode())
            current = []
    return blocks
