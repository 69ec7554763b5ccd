#!/usr/bin/env python3
"""Benchmark `lockkeys verify-signature` against sha256sum (one large file) and gpgv (many files).

Run from anywhere:

    python benchmarks/verify_bench.py [--size-mib 1024] [--files 500] [--repeat 3]
                                      [--workdir DIR] [--json]

(a) Large file: one ``--size-mib`` file with one Ed25519 signature. The wall time of the whole
    ``lockkeys verify-signature FILE --signer CERT`` process is compared with ``sha256sum FILE``
    (target: lockkeys at most 1.5x sha256sum), and the peak *anonymous* memory of the lockkeys
    process is sampled from /proc (target: at most 100 MB).
(b) Many small files: ``--files`` files of 4 KiB, each with one signature. ONE
    ``lockkeys verify-signature f1 ... fN`` call is compared with N sequential ``gpgv`` calls
    (targets: at least 10x faster than gpgv, at most 1 ms per signature).

Every figure is the median of ``--repeat`` runs taken after one warm-up run, so the page cache
is warm for both sides. Targets are reported PASS/FAIL; the exit status is 0 whatever they say.
Any failing command (above all a failed verification) aborts the benchmark with status 2,
because its numbers would be meaningless.

This is a script, not a test: nothing here belongs in the test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

MIB = 1024 * 1024
GIB = 1024 * MIB
MIN_FREE_BYTES = 3 * GIB
SMALL_FILE_BYTES = 4096
POLL_INTERVAL_S = 0.005

TARGET_LARGE_RATIO = 1.5  # lockkeys wall time / sha256sum wall time, at most
TARGET_ANON_BYTES = 100 * 1000 * 1000  # 100 MB peak anonymous memory, at most
TARGET_SPEEDUP = 10.0  # gpgv total / lockkeys total, at least
TARGET_PER_SIG_MS = 1.0  # lockkeys total / files, at most

MEMORY_NOTE = (
    "Peak anonymous memory is the largest RssAnon (/proc/PID/status) and Anonymous "
    "(/proc/PID/smaps_rollup) seen while polling the running process every ~5 ms. "
    "Anonymous memory is what the process allocates itself (heap, stacks, buffers); it "
    "excludes file pages mapped from the page cache, such as the mmap of the signed file, "
    "which the kernel can drop and re-read at will. VmHWM (peak RSS) counts those mapped "
    "file pages too, so for a streamed/mmapped 1 GiB file it grows towards the file size "
    "without any allocation; it is shown for information only. Polling can miss a spike "
    "shorter than the polling interval."
)


class BenchError(Exception):
    """A setup step or a measured command failed: the benchmark cannot go on."""


@dataclass
class Reporter:
    """Human-readable output: stdout, or stderr when stdout carries the JSON document."""

    stream: TextIO

    def line(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)


@dataclass
class MemorySample:
    """Peaks seen while polling one process, in bytes."""

    rss_anon_peak: int = 0
    smaps_anonymous_peak: int | None = None
    vm_hwm: int = 0
    samples: int = 0

    @property
    def anon_peak(self) -> int:
        return max(self.rss_anon_peak, self.smaps_anonymous_peak or 0)


@dataclass
class Timing:
    """Wall times in seconds: one warm-up run and the measured runs."""

    warmup: float
    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def _kib_field(text: str, name: str) -> int | None:
    match = re.search(rf"^{name}:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError:  # the process has exited (or is a zombie being reaped)
        return None


class MemoryPoller:
    """Sample /proc/PID/status and /proc/PID/smaps_rollup in a thread until stopped."""

    def __init__(self, pid: int, interval: float = POLL_INTERVAL_S) -> None:
        self.pid = pid
        self.interval = interval
        self.result = MemorySample()
        self._stop = threading.Event()
        self._rollup = Path(f"/proc/{pid}/smaps_rollup").exists()
        self._thread = threading.Thread(target=self._run, name=f"poll-{pid}", daemon=True)

    def __enter__(self) -> MemoryPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        status = _read(f"/proc/{self.pid}/status")
        if status is None:
            return
        anon = _kib_field(status, "RssAnon")
        if anon is None:  # zombie: no address space any more
            return
        res = self.result
        res.samples += 1
        res.rss_anon_peak = max(res.rss_anon_peak, anon)
        res.vm_hwm = max(res.vm_hwm, _kib_field(status, "VmHWM") or 0)
        if self._rollup:
            rollup = _read(f"/proc/{self.pid}/smaps_rollup")
            value = _kib_field(rollup, "Anonymous") if rollup else None
            if value is not None:
                res.smaps_anonymous_peak = max(res.smaps_anonymous_peak or 0, value)

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return


def _tail(data: bytes | str | None, limit: int = 1500) -> str:
    if not data:
        return ""
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    return text.strip()[-limit:]


def _fail(what: str, cmd: Sequence[str], code: int, stdout: bytes, stderr: bytes) -> BenchError:
    shown = shlex.join(cmd)
    if len(shown) > 300:
        shown = shown[:300] + " ..."
    details = "\n".join(part for part in (_tail(stdout), _tail(stderr)) if part)
    return BenchError(f"{what} failed (exit {code}): {shown}\n{details}".rstrip())


def run_checked(
    cmd: Sequence[str], what: str, *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> str:
    """Run a setup command; raise BenchError with its output if it fails."""
    proc = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, check=False)
    if proc.returncode != 0:
        raise _fail(what, cmd, proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout.decode(errors="replace")


def timed(cmd: Sequence[str], what: str, *, cwd: Path | None = None) -> float:
    """Wall time of one whole process (start-up included); raise BenchError if it fails."""
    start = time.perf_counter()
    proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise _fail(what, cmd, proc.returncode, proc.stdout, proc.stderr)
    return elapsed


def timed_with_memory(cmd: Sequence[str], what: str) -> tuple[float, MemorySample]:
    """Wall time of one process while a thread polls its memory; the main thread only waits."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with MemoryPoller(proc.pid) as poller:
        stdout, stderr = proc.communicate()
        elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise _fail(what, cmd, proc.returncode, stdout, stderr)
    return elapsed, poller.result


def timed_many(cmds: Sequence[Sequence[str]], what: str, *, cwd: Path | None = None) -> float:
    """Wall time of running the commands one after another, as a deploy script would."""
    start = time.perf_counter()
    for cmd in cmds:
        proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, check=False)
        if proc.returncode != 0:
            raise _fail(what, cmd, proc.returncode, proc.stdout, proc.stderr)
    return time.perf_counter() - start


def default_lockkeys() -> list[str]:
    """The lockkeys entry point of this interpreter, avoiding shims (pyenv) on PATH."""
    beside = Path(sys.executable).parent / "lockkeys"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("lockkeys")
    if found:
        return [found]
    return [sys.executable, "-m", "lockkeys"]


def require_tools(names: Sequence[str]) -> None:
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        raise BenchError(f"required tool(s) not on PATH: {', '.join(missing)}")


def load_average() -> float | None:
    """1-minute load average: other work on the machine makes every figure noisier."""
    text = _read("/proc/loadavg")
    return float(text.split()[0]) if text else None


def cpu_model() -> str:
    text = _read("/proc/cpuinfo") or ""
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def first_line(cmd: Sequence[str]) -> str:
    try:
        proc = subprocess.run(list(cmd), capture_output=True, check=False, timeout=60)
    except OSError as exc:
        return f"unavailable ({exc})"
    text = (proc.stdout or proc.stderr).decode(errors="replace").strip()
    return text.splitlines()[0] if text else "unknown"


def check_disk(workdir: Path, needed: int) -> int:
    free = shutil.disk_usage(workdir).free
    if free < needed:
        raise BenchError(
            f"not enough free disk space in {workdir}: {free / GIB:.2f} GiB free, "
            f"{needed / GIB:.2f} GiB required; free some space or use --workdir elsewhere "
            "(or a smaller --size-mib)"
        )
    return free


def write_large_file(path: Path, size_mib: int) -> None:
    """Pseudo-random content: one random 1 MiB block, its first 8 bytes set to the chunk index."""
    block = bytearray(os.urandom(MIB))
    with open(path, "wb") as handle:
        for index in range(size_mib):
            struct.pack_into("<Q", block, 0, index)
            handle.write(block)
        handle.flush()
        os.fsync(handle.fileno())  # no writeback competing with the timed runs


def write_small_files(folder: Path, count: int) -> list[str]:
    names = []
    width = len(str(count))
    for index in range(1, count + 1):
        name = f"f{index:0{width}d}.bin"
        (folder / name).write_bytes(os.urandom(SMALL_FILE_BYTES))
        names.append(name)
    return names


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def fmt_s(seconds: float) -> str:
    return f"{seconds:.3f} s"


def fmt_mem(n: int) -> str:
    return f"{n / 1e6:.1f} MB ({n / MIB:.1f} MiB)"


def fmt_runs(timing: Timing) -> str:
    runs = ", ".join(f"{t:.3f}" for t in timing.runs)
    return f"runs [{runs}] s, warm-up {timing.warmup:.3f} s"


@dataclass
class Setup:
    workdir: Path
    lockkeys: list[str]
    cert: Path
    secret: Path
    keyring: Path
    gnupg_home: Path


def make_key(workdir: Path, lockkeys: list[str], report: Reporter) -> Setup:
    keys = workdir / "keys"
    gnupg_home = workdir / "gnupg"
    keys.mkdir()
    gnupg_home.mkdir(mode=0o700)
    report.line("setup: generating an Ed25519 key ...")
    run_checked(
        [
            *lockkeys,
            "key",
            "generate",
            "bench",
            "--out-dir",
            str(keys),
            "--algorithm",
            "ed25519",
            "--uid",
            "Benchmark Signer <bench@example.invalid>",
        ],
        "lockkeys key generate",
    )
    cert = keys / "bench.asc"
    secret = keys / "bench.secret.asc"
    keyring = keys / "bench.gpg"
    for path in (cert, secret):
        if not path.is_file():
            raise BenchError(f"lockkeys key generate did not write {path}")
    run_checked(
        [
            "gpg",
            "--homedir",
            str(gnupg_home),
            "--batch",
            "--yes",
            "--output",
            str(keyring),
            "--dearmor",
            str(cert),
        ],
        "gpg --dearmor of the certificate",
    )
    return Setup(workdir, lockkeys, cert, secret, keyring, gnupg_home)


DIGEST_NAMES = {1: "MD5", 2: "SHA-1", 8: "SHA-256", 9: "SHA-384", 10: "SHA-512", 11: "SHA-224"}


def signature_digest(setup: Setup, sig: Path) -> str:
    """The hash algorithm the signature uses, as GnuPG lists it (information only)."""
    listing = run_checked(
        ["gpg", "--homedir", str(setup.gnupg_home), "--batch", "--list-packets", str(sig)],
        "gpg --list-packets of the large signature",
    )
    match = re.search(r"digest algo (\d+)", listing)
    if not match:
        return "unknown"
    return DIGEST_NAMES.get(int(match.group(1)), f"algorithm {match.group(1)}")


def gpgv_cmd(setup: Setup, sig: str, data: str) -> list[str]:
    return ["gpgv", "--homedir", str(setup.gnupg_home), "--keyring", str(setup.keyring), sig, data]


def bench_large(setup: Setup, size_mib: int, repeat: int, report: Reporter) -> dict[str, Any]:
    folder = setup.workdir / "large"
    folder.mkdir()
    data = folder / "large.bin"
    report.line(f"setup: writing {size_mib} MiB of pseudo-random bytes to {data} ...")
    start = time.perf_counter()
    write_large_file(data, size_mib)
    report.line(f"       written in {time.perf_counter() - start:.1f} s; signing it ...")
    run_checked([*setup.lockkeys, "sign", str(data), "--key", str(setup.secret)], "lockkeys sign")
    sig = Path(f"{data}.asc")
    if not sig.is_file():
        raise BenchError(f"lockkeys sign did not write {sig}")
    # Cross-check (not timed): GnuPG must accept the same signature, or the comparison is moot.
    run_checked(gpgv_cmd(setup, str(sig), str(data)), "gpgv cross-check of the large signature")

    digest = signature_digest(setup, sig)

    verify = [*setup.lockkeys, "verify-signature", str(data), "--signer", str(setup.cert)]
    sha = ["sha256sum", str(data)]
    # Information only: the digest an Ed25519 signature from Sequoia actually uses.
    sha512 = ["sha512sum", str(data)] if shutil.which("sha512sum") else None
    report.line(f"measuring (a): 1 warm-up + {repeat} runs of each, interleaved ...")
    lk_warm, mem_warm = timed_with_memory(verify, "lockkeys verify-signature (large file)")
    lk = Timing(lk_warm)
    sh = Timing(timed(sha, "sha256sum (large file)"))
    s5 = Timing(timed(sha512, "sha512sum (large file)")) if sha512 else None
    memories = [mem_warm]
    for _ in range(repeat):
        elapsed, mem = timed_with_memory(verify, "lockkeys verify-signature (large file)")
        lk.runs.append(elapsed)
        memories.append(mem)
        sh.runs.append(timed(sha, "sha256sum (large file)"))
        if sha512 and s5:
            s5.runs.append(timed(sha512, "sha512sum (large file)"))

    ratio = lk.median / sh.median
    anon_peak = max(m.anon_peak for m in memories)
    rss_anon_peak = max(m.rss_anon_peak for m in memories)
    rollups = [m.smaps_anonymous_peak for m in memories if m.smaps_anonymous_peak is not None]
    smaps_peak = max(rollups) if rollups else None
    hwm = max(m.vm_hwm for m in memories)
    return {
        "size_mib": size_mib,
        "signature_digest": digest,
        "lockkeys_s": {"median": lk.median, "runs": lk.runs, "warmup": lk.warmup},
        "sha256sum_s": {"median": sh.median, "runs": sh.runs, "warmup": sh.warmup},
        "lockkeys_throughput_mib_s": size_mib / lk.median,
        "sha256sum_throughput_mib_s": size_mib / sh.median,
        "ratio_lockkeys_over_sha256sum": ratio,
        "ratio_target_max": TARGET_LARGE_RATIO,
        "ratio_pass": ratio <= TARGET_LARGE_RATIO,
        "sha512sum_s": (
            {"median": s5.median, "runs": s5.runs, "warmup": s5.warmup} if s5 else None
        ),
        "ratio_lockkeys_over_sha512sum_info": lk.median / s5.median if s5 else None,
        "memory": {
            "anon_peak_bytes": anon_peak,
            "rss_anon_peak_bytes": rss_anon_peak,
            "smaps_rollup_anonymous_peak_bytes": smaps_peak,
            "vm_hwm_bytes": hwm,
            "poll_interval_s": POLL_INTERVAL_S,
            "samples_per_run": [m.samples for m in memories],
            "per_run": [asdict(m) for m in memories],
            "target_max_bytes": TARGET_ANON_BYTES,
            "pass": anon_peak <= TARGET_ANON_BYTES,
        },
        "_timings": (lk, sh, s5),
    }


def bench_small(setup: Setup, count: int, repeat: int, report: Reporter) -> dict[str, Any]:
    folder = setup.workdir / "small"
    folder.mkdir()
    report.line(f"setup: writing {count} files of {SMALL_FILE_BYTES} bytes and signing them ...")
    names = write_small_files(folder, count)
    run_checked(
        [*setup.lockkeys, "sign", *names, "--key", str(setup.secret)],
        "lockkeys sign (small files, one call)",
        cwd=folder,
    )
    missing = [n for n in names if not (folder / f"{n}.asc").is_file()]
    if missing:
        raise BenchError(f"lockkeys sign wrote no signature for {len(missing)} file(s)")

    verify = [*setup.lockkeys, "verify-signature", *names, "--signer", str(setup.cert)]
    gpgv_all = [gpgv_cmd(setup, f"{n}.asc", n) for n in names]
    version = [*setup.lockkeys, "--version"]
    report.line(f"measuring (b): 1 warm-up + {repeat} runs of each, interleaved ...")
    lk = Timing(timed(verify, "lockkeys verify-signature (small files)", cwd=folder))
    gv = Timing(timed_many(gpgv_all, "gpgv (small files)", cwd=folder))
    st = Timing(timed(version, "lockkeys --version"))
    for _ in range(repeat):
        lk.runs.append(timed(verify, "lockkeys verify-signature (small files)", cwd=folder))
        gv.runs.append(timed_many(gpgv_all, "gpgv (small files)", cwd=folder))
        st.runs.append(timed(version, "lockkeys --version"))

    per_sig_ms = lk.median / count * 1000
    per_sig_ex_ms = max(lk.median - st.median, 0.0) / count * 1000
    speedup = gv.median / lk.median
    return {
        "files": count,
        "file_bytes": SMALL_FILE_BYTES,
        "lockkeys_total_s": {"median": lk.median, "runs": lk.runs, "warmup": lk.warmup},
        "gpgv_total_s": {"median": gv.median, "runs": gv.runs, "warmup": gv.warmup},
        "lockkeys_version_s": {"median": st.median, "runs": st.runs, "warmup": st.warmup},
        "lockkeys_per_signature_ms": per_sig_ms,
        "lockkeys_per_signature_excluding_startup_ms": per_sig_ex_ms,
        "gpgv_per_signature_ms": gv.median / count * 1000,
        "speedup_gpgv_over_lockkeys": speedup,
        "speedup_target_min": TARGET_SPEEDUP,
        "speedup_pass": speedup >= TARGET_SPEEDUP,
        "per_signature_target_max_ms": TARGET_PER_SIG_MS,
        "per_signature_pass": per_sig_ms <= TARGET_PER_SIG_MS,
        "per_signature_excluding_startup_would_pass": per_sig_ex_ms <= TARGET_PER_SIG_MS,
        "_timings": (lk, gv, st),
    }


def print_large(res: dict[str, Any], report: Reporter) -> None:
    lk, sh, s5 = res["_timings"]
    mem = res["memory"]
    report.line()
    report.line(
        f"(a) Large file: {res['size_mib']} MiB, one Ed25519 signature "
        f"(digest {res['signature_digest']})"
    )
    report.line(
        f"  lockkeys verify-signature  median {fmt_s(lk.median)}"
        f"  ({res['lockkeys_throughput_mib_s']:.0f} MiB/s; {fmt_runs(lk)})"
    )
    report.line(
        f"  sha256sum                  median {fmt_s(sh.median)}"
        f"  ({res['sha256sum_throughput_mib_s']:.0f} MiB/s; {fmt_runs(sh)})"
    )
    report.line(
        f"  ratio lockkeys/sha256sum   {res['ratio_lockkeys_over_sha256sum']:.2f}x"
        f"   target: at most {TARGET_LARGE_RATIO}x   {verdict(res['ratio_pass'])}"
    )
    if s5 is not None:
        report.line(
            f"  sha512sum (information)    median {fmt_s(s5.median)}"
            f"  ({res['size_mib'] / s5.median:.0f} MiB/s; {fmt_runs(s5)})"
        )
        report.line(
            f"  ratio lockkeys/sha512sum   {res['ratio_lockkeys_over_sha512sum_info']:.2f}x"
            "   (information: same digest as the signature when it is SHA-512)"
        )
    report.line(
        f"  peak anonymous memory      {fmt_mem(mem['anon_peak_bytes'])}"
        f"   target: at most 100 MB   {verdict(mem['pass'])}"
    )
    smaps = mem["smaps_rollup_anonymous_peak_bytes"]
    report.line(
        f"    RssAnon peak {fmt_mem(mem['rss_anon_peak_bytes'])}; smaps_rollup Anonymous "
        f"peak {fmt_mem(smaps) if smaps is not None else 'n/a'}; "
        f"samples per run {mem['samples_per_run']}"
    )
    report.line(
        f"    VmHWM (peak RSS incl. mapped file pages, information only) "
        f"{fmt_mem(mem['vm_hwm_bytes'])}"
    )


def print_small(res: dict[str, Any], report: Reporter) -> None:
    lk, gv, st = res["_timings"]
    n = res["files"]
    report.line()
    report.line(f"(b) Many small files: {n} files of {res['file_bytes']} bytes, one signature each")
    report.line(f"  lockkeys, ONE call for all files   median {fmt_s(lk.median)}  ({fmt_runs(lk)})")
    report.line(
        f"  gpgv, one call per file (sequential) median {fmt_s(gv.median)}  ({fmt_runs(gv)})"
    )
    report.line(f"  lockkeys --version (start-up)      median {fmt_s(st.median)}  ({fmt_runs(st)})")
    report.line(
        f"  lockkeys per signature (total/files, incl. start-up)   "
        f"{res['lockkeys_per_signature_ms']:.3f} ms   target: at most "
        f"{TARGET_PER_SIG_MS} ms   {verdict(res['per_signature_pass'])}"
    )
    report.line(
        f"  lockkeys per signature excluding start-up (information) "
        f"{res['lockkeys_per_signature_excluding_startup_ms']:.3f} ms "
        f"(= (total - lockkeys --version) / {n})"
    )
    report.line(
        f"  gpgv per signature                                     "
        f"{res['gpgv_per_signature_ms']:.3f} ms"
    )
    report.line(
        f"  speed-up gpgv/lockkeys   {res['speedup_gpgv_over_lockkeys']:.1f}x"
        f"   target: at least {TARGET_SPEEDUP:.0f}x   {verdict(res['speedup_pass'])}"
    )


def summary_rows(large: dict[str, Any] | None, small: dict[str, Any] | None) -> list[list[str]]:
    rows: list[list[str]] = []
    if large is not None:
        rows.append(
            [
                "(a) lockkeys / sha256sum, " + f"{large['size_mib']} MiB",
                f"{large['ratio_lockkeys_over_sha256sum']:.2f}x",
                "<= 1.5x",
                verdict(large["ratio_pass"]),
            ]
        )
        rows.append(
            [
                "(a) peak anonymous memory",
                fmt_mem(large["memory"]["anon_peak_bytes"]),
                "<= 100 MB",
                verdict(large["memory"]["pass"]),
            ]
        )
    if small is not None:
        rows.append(
            [
                f"(b) speed-up gpgv / lockkeys, {small['files']} files",
                f"{small['speedup_gpgv_over_lockkeys']:.1f}x",
                ">= 10x",
                verdict(small["speedup_pass"]),
            ]
        )
        rows.append(
            [
                "(b) lockkeys ms per signature (incl. start-up)",
                f"{small['lockkeys_per_signature_ms']:.3f} ms",
                "<= 1 ms",
                verdict(small["per_signature_pass"]),
            ]
        )
        rows.append(
            [
                "(b) lockkeys ms per signature (excl. start-up)",
                f"{small['lockkeys_per_signature_excluding_startup_ms']:.3f} ms",
                "(information)",
                "-",
            ]
        )
    return rows


def print_summary(rows: list[list[str]], report: Reporter) -> None:
    header = ["measure", "value", "target", "result"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    rule = "-+-".join("-" * w for w in widths)
    report.line()
    report.line("Summary")
    report.line(rule)
    for row in [header, *rows]:
        report.line(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        if row is header:
            report.line(rule)
    report.line(rule)


def public(res: dict[str, Any] | None) -> dict[str, Any] | None:
    if res is None:
        return None
    return {k: v for k, v in res.items() if not k.startswith("_")}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time lockkeys verify-signature against sha256sum and gpgv.",
    )
    parser.add_argument("--size-mib", type=int, default=1024, help="large file size (MiB)")
    parser.add_argument("--files", type=int, default=500, help="number of 4 KiB files")
    parser.add_argument("--repeat", type=int, default=3, help="measured runs (median)")
    parser.add_argument("--workdir", type=Path, help="keep the files here (not deleted)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument(
        "--lockkeys",
        help="command that runs lockkeys (default: the entry point beside this Python)",
    )
    args = parser.parse_args(argv)
    if args.size_mib < 0 or args.files < 0 or args.repeat < 1:
        parser.error("--size-mib and --files must be >= 0 (0 skips), --repeat must be >= 1")
    return args


def prepare_workdir(given: Path | None) -> Path:
    if given is None:
        return Path(tempfile.mkdtemp(prefix="lockkeys-bench-"))
    workdir = given.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # Only the sub-folders this script owns are replaced (a stale FILE.asc would gain signatures).
    for sub in ("keys", "gnupg", "large", "small"):
        shutil.rmtree(workdir / sub, ignore_errors=True)
    return workdir


def run(args: argparse.Namespace, report: Reporter) -> dict[str, Any]:
    lockkeys = shlex.split(args.lockkeys) if args.lockkeys else default_lockkeys()
    require_tools(["sha256sum", "gpg", "gpgv"])
    info: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "lockkeys_command": shlex.join(lockkeys),
        "lockkeys_version": run_checked([*lockkeys, "--version"], "lockkeys --version").strip(),
        "gpgv_version": first_line(["gpgv", "--version"]),
        "gnupg_version": first_line(["gpg", "--version"]),
        "sha256sum_version": first_line(["sha256sum", "--version"]),
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "load_average_1min_start": load_average(),
        "repeat": args.repeat,
        "method": (
            "wall time of each whole process (time.perf_counter around start and exit), "
            f"median of {args.repeat} measured run(s) after 1 warm-up run, so the page cache "
            "is warm for both sides; lockkeys and the reference tool are run interleaved"
        ),
        "memory_method": MEMORY_NOTE,
    }
    report.line("lockkeys verify-signature benchmark")
    for key in (
        "date",
        "python",
        "lockkeys_version",
        "gnupg_version",
        "sha256sum_version",
        "cpu_model",
        "cpus",
        "lockkeys_command",
    ):
        report.line(f"  {key:<18} {info[key]}")
    report.line(f"  method: {info['method']}.")
    report.line()

    busy = info["load_average_1min_start"]
    if busy is not None and busy > 0.5:
        report.line(
            f"  warning: 1-minute load average is {busy:.2f} before starting; other work on "
            "this machine will make the figures noisy (compare the individual runs)"
        )
    workdir = prepare_workdir(args.workdir)
    info["workdir"] = str(workdir)
    large: dict[str, Any] | None = None
    small: dict[str, Any] | None = None
    try:
        needed = max(MIN_FREE_BYTES, 2 * args.size_mib * MIB) if args.size_mib else 0
        info["disk_free_bytes"] = check_disk(workdir, needed)
        setup = make_key(workdir, lockkeys, report)
        if args.size_mib:
            large = bench_large(setup, args.size_mib, args.repeat, report)
        if args.files:
            small = bench_small(setup, args.files, args.repeat, report)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    info["load_average_1min_end"] = load_average()
    report.line(
        f"load average (1 min): {info['load_average_1min_start']} at start, "
        f"{info['load_average_1min_end']} at end"
    )
    if large is not None:
        print_large(large, report)
        report.line("  " + MEMORY_NOTE)
    if small is not None:
        print_small(small, report)
    rows = summary_rows(large, small)
    print_summary(rows, report)
    report.line(
        f"(median of {args.repeat} measured run(s) after 1 warm-up run; page cache warm for both "
        "sides; exit status is 0 whatever the targets say)"
    )
    return {"info": info, "large_file": public(large), "small_files": public(small)}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = Reporter(sys.stderr if args.json else sys.stdout)
    try:
        document = run(args, report)
    except BenchError as exc:
        print(
            f"verify_bench: benchmark aborted, the numbers would be meaningless:\n{exc}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("verify_bench: interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(document, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
