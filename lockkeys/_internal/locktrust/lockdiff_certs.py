"""The comparison of signer pins and certificates: rotations, replacements, merges, losses.

A replacement key certified by the key it replaces is a **rotation** (neutral, checked by
:mod:`lockkeys._internal.trust.transition`); one that is not is a weakening, as is a
certificate that lost components. A merge that only adds components is neutral.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lockkeys._internal.locktrust.lockdiff_record import DiffRecorder
from lockkeys._internal.locktrust.lockdiff_report import LOCK_WIDE
from lockkeys._internal.locktrust.lockfields import Kind
from lockkeys._internal.trust.certs import Certificate


def _short(cert: Certificate) -> str:
    expires = f"{cert.facts.expires:%Y-%m-%d}" if cert.facts.expires else "never"
    state = ", revoked" if cert.facts.revoked else ""
    return f"{cert.fingerprint[-16:]} expires {expires}{state}"


def _label(fpr: str, names: Mapping[str, str]) -> str:
    name = names.get(fpr)
    return f"{name} {fpr}" if name else fpr


class CertificateRules(DiffRecorder):
    """The rules for certificates embedded in the lock and the signers each package pins."""

    def certificate_changes(self) -> None:
        """Same fingerprint, other certificate bytes: a merge (or a loss of components)."""
        from lockkeys._internal.trust.merge import compare_certificates

        for fpr in sorted(self.old_certs.keys() & self.new_certs.keys()):
            before, after = self.old_certs[fpr], self.new_certs[fpr]
            if before.binary == after.binary:
                continue
            delta = compare_certificates(before, after)
            found: list[tuple[Kind, str]] = []
            lost = [*delta.revocations_removed, *delta.removed]
            if lost:
                found.append((Kind.WEAKENING, "certificate lost components: " + "; ".join(lost)))
            if delta.revocations_added:
                found.append(
                    (Kind.STRENGTHENING, "revocation added: " + "; ".join(delta.revocations_added))
                )
            merged = [t for t in (delta.expiry_text(),) if t] + list(delta.added)
            if merged:
                found.append((Kind.NEUTRAL, "certificate merged: " + "; ".join(merged)))
            field_ = f"signers.{self.new_names.get(fpr) or fpr}.certificate"
            old_field = f"signers.{self.old_names.get(fpr) or fpr}.certificate"
            for pkg in self._packages_pinning(fpr) or [LOCK_WIDE]:
                for kind, what in found:
                    self.add(
                        pkg, field_, _short(before), _short(after), kind, what, covers=(old_field,)
                    )

    def _packages_pinning(self, fpr: str) -> list[str]:
        return sorted(
            {p.name for p in self.new.packages if fpr in p.tool.signers}
            | {p.name for p in self.old.packages if fpr in p.tool.signers}
        )

    def _signers(self, package: str, before: Iterable[str], after: Iterable[str]) -> None:
        from lockkeys._internal.trust.transition import find_transition

        removed = sorted(set(before) - set(after))
        added = sorted(set(after) - set(before))
        # The embedded certificates of keys whose pins changed: reported with the pins.
        tables = [self.old_names.get(f) for f in removed] + [self.new_names.get(f) for f in added]
        self.covered.setdefault(LOCK_WIDE, set()).update(
            f"signers.{name}{tail}"
            for name in tables
            if name
            for tail in ("", ".fingerprint", ".certificate")
        )
        for new_fpr in list(added):
            new_cert = self.new_certs.get(new_fpr)
            for old_fpr in removed:
                old_cert = self.old_certs.get(old_fpr)
                if new_cert is None or old_cert is None:
                    continue
                statement = find_transition(old_cert, new_cert)
                if statement is not None:
                    self.add(
                        package,
                        "signers",
                        _label(old_fpr, self.old_names),
                        _label(new_fpr, self.new_names),
                        Kind.NEUTRAL,
                        f"rotation: the new key is certified by the old one ({statement})",
                    )
                    removed.remove(old_fpr)
                    added.remove(new_fpr)
                    break
        for new_fpr in list(added):
            name = self.new_names.get(new_fpr)
            match = next((f for f in removed if name and self.old_names.get(f) == name), None)
            if match is not None:
                self.add(
                    package,
                    "signers",
                    _label(match, self.old_names),
                    _label(new_fpr, self.new_names),
                    Kind.WEAKENING,
                    "signer replaced: the primary key changed and no transition statement "
                    "by the old key certifies the new one",
                )
                removed.remove(match)
                added.remove(new_fpr)
        for fpr in removed:
            self.add(
                package,
                "signers",
                _label(fpr, self.old_names),
                None,
                Kind.WEAKENING,
                "signer removed",
            )
        for fpr in added:
            self.add(
                package,
                "signers",
                None,
                _label(fpr, self.new_names),
                Kind.WEAKENING,
                "signer added: one more key can count toward the threshold",
            )
