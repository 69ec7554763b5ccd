"""`lockkeys key generate|show`, `lockkeys sign`, `lockkeys verify-signature`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lockkeys import api
from lockkeys._internal.cli.helpfmt import MetavarCommand
from lockkeys._internal.cli.state import STATE, err, note, out
from lockkeys.errors import VerificationError, escape

if TYPE_CHECKING:
    from lockkeys.api import CertFacts, KeyFacts

# The OpenPGP engine is imported by the library functions that use it (lockkeys.api imports
# lazily): `lockkeys lock` and the deploy commands start without it.

key_app = typer.Typer(help="Make and inspect signing keys.", no_args_is_help=True)


@key_app.command("generate", cls=MetavarCommand)
def generate(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME", help="File name stem: NAME.asc, NAME.secret.asc, NAME.revocation.asc."
        ),
    ],
    uid: Annotated[
        str | None,
        typer.Option(
            "--uid", metavar="USERID", help='User ID, e.g. "Corp Release <release@corp.example>".'
        ),
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out-dir", metavar="DIR", help="Folder for the three files.")
    ] = Path("keys"),
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires", metavar="WHEN", help="2y, 18m, 6w, 30d, a date, or never (default)."
        ),
    ] = None,
    passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--passphrase-file",
            metavar="FILE",
            help="Protect the secret key with the first line of this file.",
        ),
    ] = None,
    algorithm: Annotated[
        str,
        typer.Option("--algorithm", metavar="NAME", help="ed25519 (default), rsa3072 or rsa4096."),
    ] = "ed25519",
    replaces: Annotated[
        Path | None,
        typer.Option(
            "--replaces",
            metavar="FILE",
            help="The old key's secret key: it certifies the new key (a transition statement).",
        ),
    ] = None,
    replaces_passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--replaces-passphrase-file", metavar="FILE", help="Passphrase of the --replaces key."
        ),
    ] = None,
) -> None:
    """Generate a signing key (Ed25519 by default) and its revocation certificate."""
    files = api.generate_key(
        name,
        out_dir=out_dir,
        user_id=uid,
        expires=expires,
        passphrase_file=passphrase_file,
        algorithm=algorithm,
        replaces=replaces,
        replaces_passphrase_file=replaces_passphrase_file,
    )
    out.print(files.fingerprint, markup=False)
    note(f"certificate:  {files.certificate}  (share it; list it under [tool.lockkeys.signers])")
    note(
        f"secret key:   {files.secret}  (mode 0600, "
        + ("passphrase-protected" if files.protected else "NOT passphrase-protected")
        + "; keep it private)"
    )
    note(f"revocation:   {files.revocation}  (keep it offline; publishing it revokes the key)")
    if files.expires:
        note(f"expires:      {files.expires:%Y-%m-%d}")
    if files.replaces:
        note(
            f"transition:   {files.certificate} carries a certification by the old key "
            f"{files.replaces}; `lockkeys diff` shows the re-lock as a rotation"
        )


def _key_json(key: KeyFacts) -> dict[str, object]:
    return {
        "fingerprint": key.fingerprint,
        "algorithm": key.algorithm,
        "created": key.created.isoformat(),
        "expires": key.expires.isoformat() if key.expires else None,
        "capabilities": sorted(key.capabilities),
        "revoked": key.revoked,
        "revocation_reason": key.revocation_reason,
        "revoked_at": key.revoked_at.isoformat() if key.revoked and key.revoked_at else None,
    }


def _cert_json(path: Path, facts: CertFacts) -> dict[str, object]:
    return {
        "file": str(path),
        "fingerprint": facts.fingerprint,
        "user_ids": list(facts.user_ids),
        "secret": facts.has_secret,
        "expires": facts.expires.isoformat() if facts.expires else None,
        "revoked": facts.revoked,
        "primary": _key_json(facts.primary),
        "subkeys": [_key_json(k) for k in facts.subkeys],
        "notes": list(facts.notes),
    }


def revocation_effect(key: KeyFacts, whose: str = "this key") -> str:
    """Which signatures of a revoked key still count: none after a hard revocation; those
    made before a soft one (superseded, retired), as the verifier decides."""
    if key.revoked_at is None:
        return f"signatures by {whose} do not count"
    return (
        f"signatures made after {key.revoked_at:%Y-%m-%d %H:%M:%S} UTC do not count; "
        "earlier ones still do"
    )


def _state(key: KeyFacts) -> str:
    if key.revoked:
        reason = f" ({key.revocation_reason})" if key.revocation_reason else ""
        return f"revoked{reason}: {revocation_effect(key)}"
    if key.expires:
        left = (key.expires - datetime.now(UTC)).days
        if left < 0:
            return f"EXPIRED {key.expires:%Y-%m-%d}"
        return f"expires {key.expires:%Y-%m-%d} (in {left} days)"
    return "no expiry"


@key_app.command("show", cls=MetavarCommand)
def show(
    files: Annotated[
        list[Path],
        typer.Argument(metavar="FILE", help="Armored or binary certificates or secret keys."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """Show fingerprint, subkeys and capabilities, expiry and revocation state."""
    shown = [(path, api.show_key(path)) for path in files]
    if as_json:
        print(json.dumps([_cert_json(p, f) for p, f in shown], indent=2, sort_keys=True))
        return
    for path, facts in shown:
        kind = "secret key" if facts.has_secret else "certificate"
        out.print(f"{escape(str(path))}: {kind}", markup=False)
        out.print(f"  fingerprint  {facts.fingerprint}", markup=False)
        for uid in facts.user_ids:
            out.print(f"  user ID      {escape(uid)}", markup=False)
        if facts.revoked:
            effect = revocation_effect(facts.primary, "this certificate")
            out.print(f"  REVOKED: {effect}", markup=False)
        out.print(
            "  expires      "
            + (f"{facts.expires:%Y-%m-%d %H:%M} UTC" if facts.expires else "never"),
            markup=False,
        )
        for label, key in [("primary", facts.primary)] + [("subkey", k) for k in facts.subkeys]:
            can = ",".join(sorted(key.capabilities)) or "-"
            out.print(
                f"  {label:<8} {key.fingerprint}  {key.algorithm:<18} {can:<16} {_state(key)}",
                markup=False,
            )
        for text in facts.notes:
            out.print(f"  note: {escape(text)}", markup=False)


def sign(
    files: Annotated[list[Path], typer.Argument(metavar="FILE", help="Files to sign.")],
    key: Annotated[
        Path, typer.Option("--key", metavar="FILE", help="The secret key (NAME.secret.asc).")
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out-dir", metavar="DIR", help="Write FILE.asc here instead of beside FILE."
        ),
    ] = None,
    passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--passphrase-file", metavar="FILE", help="Passphrase for the secret key (first line)."
        ),
    ] = None,
) -> None:
    """Write a detached armored signature FILE.asc, adding to one that exists."""
    for signed in api.sign(files, key, out_dir=out_dir, passphrase_file=passphrase_file):
        out.print(f"{signed.signature_file}", markup=False)
        note(
            f"signed {signed.file} with {signed.signer}"
            + (
                f" ({signed.signatures_in_file} signatures in the file now)"
                if signed.signatures_in_file > 1
                else ""
            )
        )


def verify_signature(
    files: Annotated[list[str], typer.Argument(metavar="FILE", help="The signed file(s).")],
    signer: Annotated[
        list[str],
        typer.Option(
            "--signer", metavar="CERT", help="A trusted certificate (repeat for m signers)."
        ),
    ],
    signature: Annotated[
        list[str] | None,
        typer.Option(
            "--signature",
            metavar="FILE",
            help="Signature file(s) for a single FILE; default FILE.asc.",
        ),
    ] = None,
    threshold: Annotated[
        int,
        typer.Option(
            "--threshold", metavar="N", help="How many distinct signers must have signed."
        ),
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """Exit 0 when at least N distinct trusted signers validly signed each FILE."""
    # Plain strings, made into paths here: many FILE arguments stay cheap to parse.
    results = api.verify_signature(
        [Path(f) for f in files],
        [Path(c) for c in signer],
        signatures=[Path(g) for g in signature or ()],
        threshold=threshold,
    )
    refused = [r for r in results if not r.met]
    if as_json:
        document: object = (
            results[0].to_json() if len(results) == 1 else [r.to_json() for r in results]
        )
        print(json.dumps(document, indent=2, sort_keys=True))
    else:
        for result in results:
            name = escape(result.file)
            if result.met:
                out.print(f"OK: {name}: {result.summary()}", markup=False)
                if len(results) == 1 or STATE.verbose:
                    for line in result.explain():
                        out.print(f"  {escape(line)}", markup=False)
            else:
                out.print(f"REFUSED: {name}: {result.summary()}", markup=False)
    if refused:
        if as_json:
            raise typer.Exit(VerificationError.exit_code)
        for result in refused[1:]:
            try:
                result.require()
            except VerificationError as exc:
                err.print(f"lockkeys: {exc.diagnostics()}", markup=False)
        refused[0].require()
