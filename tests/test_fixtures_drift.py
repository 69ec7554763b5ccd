"""The committed fixtures in fixtures/data are exactly what fixtures/generate.py builds.

Only distributions are compared: signatures (``.asc``) and keys are added by the trust layer's
signing step and are checked by its own tests.
"""

from __future__ import annotations

from pathlib import Path

from fixtures.generate import FOLDERS, PACKAGES, build_distributions

DISTRIBUTION_SUFFIXES = (".whl", ".tar.gz")


def _distributions(root: Path) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for folder in FOLDERS:
        for path in sorted((root / folder).glob("*")):
            if path.is_file() and path.name.endswith(DISTRIBUTION_SUFFIXES):
                found[f"{folder}/{path.name}"] = path.read_bytes()
    return found


def test_committed_fixtures_match_a_fresh_build(tmp_path: Path, fixture_data: Path) -> None:
    made = build_distributions(tmp_path)
    fresh = _distributions(tmp_path)
    committed = _distributions(fixture_data)
    assert len(made) == len(fresh)
    assert sorted(committed) == sorted(fresh), "run: python fixtures/generate.py"
    drifted = [name for name in fresh if committed[name] != fresh[name]]
    assert drifted == [], f"regenerate with `python fixtures/generate.py`: {drifted}"


def test_generation_is_idempotent(tmp_path: Path) -> None:
    build_distributions(tmp_path)
    first = _distributions(tmp_path)
    (tmp_path / "public" / "stale-0.1-py3-none-any.whl").write_bytes(b"old")
    (tmp_path / "public" / "keep.asc").write_bytes(b"signature")
    build_distributions(tmp_path)
    assert _distributions(tmp_path) == first
    assert (tmp_path / "public" / "keep.asc").read_bytes() == b"signature"


def test_the_table_describes_the_scenario() -> None:
    rows = {(d.folder, d.name, d.version): d for d in PACKAGES}
    assert rows["public", "foo", "1.0"].requires == ("bar>=1.0", "util>=2")
    assert rows["public", "bar", "1.1"].requires == ("broken>=1.0,<2",)
    assert ("public", "broken", "1.0") in rows
    assert ("private", "broken", "1.0+corp.1") in rows
    assert not any(
        d.name == "broken" and d.version != "1.0" for d in PACKAGES if d.folder == "public"
    )
    assert len(rows["public", "plat", "1.0"].tags) == 3
