"""[tool.lockkeys] configuration: discovery, validation with key paths, effective policy, digest."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lockkeys._internal.config import (
    DEFAULT_INDEX_URL,
    DefaultConfig,
    LockkeysConfig,
    PackageConfig,
    SourceConfig,
    load_config,
)
from lockkeys.errors import InputError, UsageError

SIGNERS = """
[signers]
corp = "keys/corp.asc"
alice = "keys/alice.asc"
bob = "keys/bob.asc"
"""


def make_tree(tmp_path: Path) -> Path:
    keys = tmp_path / "keys"
    keys.mkdir(exist_ok=True)
    for name in ("corp", "alice", "bob"):
        (keys / f"{name}.asc").write_text(f"certificate of {name}\n", encoding="utf-8")
    return tmp_path


def as_pyproject(body: str) -> str:
    """Turn a lockkeys.toml body into the same keys under [tool.lockkeys] in pyproject.toml."""
    out = ['[project]\nname = "demo"\nversion = "1"\ndependencies = ["requests>=2"]\n']
    top: list[str] = []
    for line in textwrap.dedent(body).splitlines():
        stripped = line.strip()
        if stripped.startswith("[["):
            out.append(f"[[tool.lockkeys.{stripped[2:]}")
        elif stripped.startswith("["):
            out.append(f"[tool.lockkeys.{stripped[1:]}")
        elif not out[1:] and stripped:
            top.append(line)
        else:
            out.append(line)
    return "\n".join([out[0], "[tool.lockkeys]", *top, *out[1:]]) + "\n"


def write_config(tmp_path: Path, kind: str, body: str) -> Path:
    make_tree(tmp_path)
    if kind == "pyproject":
        path = tmp_path / "pyproject.toml"
        path.write_text(as_pyproject(body), encoding="utf-8")
    else:
        path = tmp_path / "lockkeys.toml"
        path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


KINDS = ["pyproject", "lockkeys"]


def prefix(kind: str) -> str:
    return "tool.lockkeys." if kind == "pyproject" else ""


def file_name(kind: str) -> str:
    return "pyproject.toml" if kind == "pyproject" else "lockkeys.toml"


# ---- loading ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_full_example_loads_with_resolved_paths(tmp_path: Path, kind: str) -> None:
    write_config(
        tmp_path,
        kind,
        """
        requirements = ["requirements.in"]
        lockfile = "locks/pylock.toml"
        resolver = "uv"
        signature-stores = ["signatures", "https://sigs.example/store/"]

        [[sources]]
        name = "private"
        url = "http://127.0.0.1:8081/simple/"

        [[sources]]
        name = "wheelhouse"
        path = "wheels"
        """
        + SIGNERS
        + """
        [default]
        verify = "hashes"

        [packages.Broken_Pkg]
        signers = ["corp"]
        threshold = 1
        verify = "signatures"
        source = "private"
        substitute = "1.0+corp.1"
        reason = "backported fix"
        allow-sdist = true
        """,
    )
    config = load_config(cwd=tmp_path)
    assert config.config_path == tmp_path / file_name(kind)
    assert config.root == tmp_path
    assert config.key_prefix == prefix(kind)
    assert config.requirements == [tmp_path / "requirements.in"]
    assert config.lockfile == tmp_path / "locks" / "pylock.toml"
    assert config.resolver == "uv"
    assert config.signature_stores == [str(tmp_path / "signatures"), "https://sigs.example/store/"]
    assert [s.name for s in config.sources] == ["private", "wheelhouse"]
    assert config.sources[0].url == "http://127.0.0.1:8081/simple/"
    assert config.sources[1].path == tmp_path / "wheels"
    assert config.signers == {n: tmp_path / "keys" / f"{n}.asc" for n in ("corp", "alice", "bob")}
    assert list(config.packages) == ["broken-pkg"]
    pkg = config.packages["broken-pkg"]
    assert pkg.allow_sdist is True
    assert pkg.substitute == "1.0+corp.1"
    if kind == "pyproject":
        assert config.project_dependencies == ["requests>=2"]
    else:
        assert config.project_dependencies is None


@pytest.mark.parametrize("kind", KINDS)
def test_defaults(tmp_path: Path, kind: str) -> None:
    write_config(tmp_path, kind, 'resolver = "pip-tools"\n')
    config = load_config(cwd=tmp_path)
    assert config.requirements is None
    assert config.lockfile == tmp_path / "pylock.toml"
    assert config.resolver == "pip-tools"
    assert config.signature_stores == []
    assert config.sources == [SourceConfig(name="pypi", url=DEFAULT_INDEX_URL)]
    assert config.signers == {}
    assert config.default.verify == "hashes"
    assert config.packages == {}
    assert config.policy("anything").verify == "hashes"


def test_both_present_is_a_usage_error(tmp_path: Path) -> None:
    write_config(tmp_path, "pyproject", 'resolver = "uv"\n')
    write_config(tmp_path, "lockkeys", 'resolver = "uv"\n')
    with pytest.raises(UsageError) as info:
        load_config(cwd=tmp_path)
    assert "--config" in (info.value.fix or "")
    assert "lockkeys.toml" in info.value.message and "pyproject.toml" in info.value.message


def test_pyproject_without_table_does_not_count(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    write_config(tmp_path, "lockkeys", 'resolver = "uv"\n')
    assert load_config(cwd=tmp_path).config_path.name == "lockkeys.toml"


def test_neither_present_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(UsageError) as info:
        load_config(cwd=tmp_path)
    assert "--config" in (info.value.fix or "")
    assert "[tool.lockkeys]" in (info.value.fix or "")


@pytest.mark.parametrize("kind", KINDS)
def test_explicit_config_wins_over_discovery(tmp_path: Path, kind: str) -> None:
    write_config(tmp_path, "pyproject", 'resolver = "uv"\n')
    write_config(tmp_path, "lockkeys", 'resolver = "pip-tools"\n')
    config = load_config(tmp_path / file_name(kind), cwd=tmp_path)
    assert config.resolver == ("uv" if kind == "pyproject" else "pip-tools")


def test_explicit_config_any_name_is_top_level_and_relative_to_cwd(tmp_path: Path) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    make_tree(sub)
    (sub / "other.toml").write_text('lockfile = "x.toml"\n', encoding="utf-8")
    config = load_config(Path("conf/other.toml"), cwd=tmp_path)
    assert config.lockfile == sub / "x.toml"
    assert config.key_prefix == ""


def test_explicit_pyproject_without_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"no \[tool.lockkeys\] table"):
        load_config(tmp_path / "pyproject.toml")


def test_explicit_config_missing(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        load_config(tmp_path / "nope.toml")
    assert "not found" in info.value.message


@pytest.mark.parametrize("kind", KINDS)
def test_toml_syntax_error_names_file_and_line(tmp_path: Path, kind: str) -> None:
    path = write_config(tmp_path, kind, 'resolver = "uv"\n')
    path.write_text(path.read_text(encoding="utf-8") + "broken = = 1\n", encoding="utf-8")
    lines = path.read_text(encoding="utf-8").count("\n")
    with pytest.raises(InputError) as info:
        load_config(path, cwd=tmp_path)
    assert info.value.file == str(path)
    assert f"line {lines}" in info.value.message
    assert "invalid TOML" in info.value.message


def test_project_dependencies_are_validated(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["ok>=1", "bad @ https://x.test/bad.whl"]\n'
        "[tool.lockkeys]\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as info:
        load_config(cwd=tmp_path)
    assert info.value.file == "pyproject.toml"
    assert info.value.message.startswith("project.dependencies[1]: ")


# ---- errors: file and key path ---------------------------------------------------------------

ERROR_CASES: list[tuple[str, str, str, str]] = [
    # (id, body, key path without prefix, fragment of the message)
    (
        "threshold-exceeds",
        SIGNERS + '[packages.broken]\nsigners = ["corp", "alice"]\nthreshold = 3\n',
        "packages.broken.threshold",
        "3 exceeds the 2 signers listed",
    ),
    (
        "threshold-zero",
        SIGNERS + '[packages.broken]\nsigners = ["corp"]\nthreshold = 0\n',
        "packages.broken.threshold",
        "below 1",
    ),
    (
        "threshold-not-int",
        SIGNERS + '[packages.broken]\nsigners = ["corp"]\nthreshold = "1"\n',
        "packages.broken.threshold",
        "expected an integer",
    ),
    (
        "unknown-key-package",
        SIGNERS + '[packages.broken]\nsigners = ["corp"]\nthresold = 1\n',
        "packages.broken.thresold",
        "unknown key 'thresold'",
    ),
    (
        "unknown-key-top",
        "lockfiel = 'x'\n",
        "lockfiel",
        "unknown key 'lockfiel'",
    ),
    (
        "snake-case-key-is-unknown",
        "signature_stores = ['s']\n",
        "signature_stores",
        "unknown key 'signature_stores'",
    ),
    (
        "internal-key-is-unknown",
        "root = '/'\n",
        "root",
        "unknown key 'root'",
    ),
    (
        "bad-verify",
        SIGNERS + '[packages.broken]\nsigners = ["corp"]\nverify = "signature"\n',
        "packages.broken.verify",
        "expected one of: hashes, signatures, hashes+signatures, none",
    ),
    (
        "bad-resolver",
        "resolver = 'poetry'\n",
        "resolver",
        "expected one of: pip-tools, uv",
    ),
    (
        "signatures-without-signers",
        SIGNERS + '[packages.broken]\nverify = "signatures"\n',
        "packages.broken.verify",
        "no signers",
    ),
    (
        "hashes-signatures-without-signers",
        SIGNERS + '[packages.broken]\nverify = "hashes+signatures"\n',
        "packages.broken.verify",
        "would accept anything",
    ),
    (
        "duplicate-signer",
        SIGNERS + '[packages.broken]\nsigners = ["corp", "alice", "corp"]\n',
        "packages.broken.signers[2]",
        "'corp' is listed twice",
    ),
    (
        "unknown-signer",
        SIGNERS + '[packages.broken]\nsigners = ["corp", "alcie"]\n',
        "packages.broken.signers[1]",
        "unknown signer 'alcie'",
    ),
    (
        "unknown-signer-in-default",
        SIGNERS + '[default]\nsigners = ["dave"]\n',
        "default.signers[0]",
        "unknown signer 'dave'",
    ),
    (
        "unknown-source",
        SIGNERS + '[packages.broken]\nsource = "privat"\n',
        "packages.broken.source",
        "unknown source 'privat'",
    ),
    (
        "signer-file-missing",
        '[signers]\ncorp = "keys/missing.asc"\n',
        "signers.corp",
        "keys/missing.asc does not exist",
    ),
    (
        "signers-with-hashes",
        SIGNERS + '[packages.broken]\nsigners = ["corp"]\nverify = "hashes"\n',
        "packages.broken.signers",
        "does not check signatures",
    ),
    (
        "threshold-with-none",
        SIGNERS + '[packages.broken]\nthreshold = 1\nverify = "none"\n',
        "packages.broken.threshold",
        "does not check signatures",
    ),
    (
        "threshold-without-any-signers",
        SIGNERS + "[packages.broken]\nthreshold = 1\n",
        "packages.broken.threshold",
        "does not check signatures",
    ),
    (
        "threshold-exceeds-default-signers",
        SIGNERS + '[default]\nsigners = ["corp"]\n[packages.broken]\nthreshold = 2\n',
        "packages.broken.threshold",
        "2 exceeds the 1 signer listed in [tool.lockkeys.default]",
    ),
    (
        "none-is-never-a-default",
        '[default]\nverify = "none"\n',
        "default.verify",
        "never a default",
    ),
    (
        "default-signatures-without-signers",
        '[default]\nverify = "signatures"\n',
        "default.verify",
        "no signers",
    ),
    (
        "default-threshold-exceeds",
        SIGNERS + '[default]\nsigners = ["corp"]\nthreshold = 2\n',
        "default.threshold",
        "2 exceeds the 1 signer listed",
    ),
    (
        "bad-substitute",
        SIGNERS + '[packages.broken]\nsubstitute = "not a version"\n',
        "packages.broken.substitute",
        "not a valid PEP 440 version",
    ),
    (
        "allow-sdist-not-bool",
        '[packages.broken]\nallow-sdist = "yes"\n',
        "packages.broken.allow-sdist",
        "expected a boolean",
    ),
    (
        "package-name-collision",
        "[packages.Foo_Bar]\n[packages.foo-bar]\n",
        "packages.foo-bar",
        "both name the package 'foo-bar'",
    ),
    (
        "source-url-and-path",
        '[[sources]]\nname = "x"\nurl = "https://i.test/simple/"\npath = "w"\n',
        "sources[0]",
        "exactly one of `url` and `path`, found both",
    ),
    (
        "source-neither",
        '[[sources]]\nname = "x"\n',
        "sources[0]",
        "found neither",
    ),
    (
        "source-bad-scheme",
        '[[sources]]\nname = "x"\nurl = "ftp://i.test/simple/"\n',
        "sources[0].url",
        "not an http(s) URL",
    ),
    (
        "source-missing-name",
        '[[sources]]\nurl = "https://i.test/simple/"\n',
        "sources[0].name",
        "missing key 'name'",
    ),
    (
        "source-duplicate-name",
        '[[sources]]\nname = "x"\nurl = "https://a.test/simple/"\n'
        '[[sources]]\nname = "x"\npath = "w"\n',
        "sources[1].name",
        "'x' is used twice",
    ),
    (
        "sources-empty",
        "sources = []\n",
        "sources",
        "no sources",
    ),
    (
        "store-bad-scheme",
        "signature-stores = ['s3://bucket/sigs']\n",
        "signature-stores[0]",
        "only http(s) URLs and folders",
    ),
    (
        "requirements-not-array",
        "requirements = 'requirements.in'\n",
        "requirements",
        "expected an array, found 'requirements.in'",
    ),
    (
        "requirements-empty",
        "requirements = []\n",
        "requirements",
        "empty",
    ),
    (
        "packages-not-table",
        "packages = 3\n",
        "packages",
        "expected a table, found 3",
    ),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("body", "key_path", "fragment"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_errors_name_file_and_key_path(
    tmp_path: Path, kind: str, body: str, key_path: str, fragment: str
) -> None:
    write_config(tmp_path, kind, body)
    with pytest.raises(InputError) as info:
        load_config(cwd=tmp_path)
    err = info.value
    assert err.file == file_name(kind)
    assert err.message.startswith(f"{prefix(kind)}{key_path}: "), err.message
    assert fragment in err.message
    assert str(err).startswith(f"{file_name(kind)}: {prefix(kind)}{key_path}: ")


def test_headline_matches_contract_example(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        "pyproject",
        SIGNERS + '[packages.broken]\nsigners = ["corp", "alice"]\nthreshold = 3\n',
    )
    with pytest.raises(InputError) as info:
        load_config(cwd=tmp_path)
    assert str(info.value) == (
        "pyproject.toml: tool.lockkeys.packages.broken.threshold: 3 exceeds the 2 signers listed"
    )


@pytest.mark.parametrize(
    ("body", "fix"),
    [
        (SIGNERS + '[packages.p]\nsigners = ["corp"]\nthresold = 1\n', "did you mean 'threshold'?"),
        (SIGNERS + '[packages.p]\nsigners = ["corp"]\nverify = "hash"\n', "did you mean 'hashes'?"),
        (SIGNERS + '[packages.p]\nsigners = ["crop"]\n', "did you mean 'corp'?"),
        ("signature-store = []\n", "did you mean 'signature-stores'?"),
        ('[[sources]]\nname = "x"\nurll = "https://a.test/"\n', "did you mean 'url'?"),
        ('[default]\nverfy = "hashes"\n', "did you mean 'verify'?"),
    ],
)
def test_fix_suggests_close_names(tmp_path: Path, body: str, fix: str) -> None:
    write_config(tmp_path, "lockkeys", body)
    with pytest.raises(InputError) as info:
        load_config(cwd=tmp_path)
    assert info.value.fix == fix


def test_user_spelling_of_package_key_is_kept(tmp_path: Path) -> None:
    write_config(tmp_path, "lockkeys", SIGNERS + '[packages.Broken_Pkg]\nsource = "nope"\n')
    with pytest.raises(InputError) as info:
        load_config(cwd=tmp_path)
    assert info.value.message.startswith("packages.Broken_Pkg.source: ")


def test_several_errors_first_is_headline_rest_in_details(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        "pyproject",
        "resolver = 'poetry'\nlockfiel = 'x'\n[packages.a]\nverify = 'sigs'\n",
    )
    with pytest.raises(InputError) as info:
        load_config(cwd=tmp_path)
    err = info.value
    assert err.message.startswith("tool.lockkeys.resolver: ")
    assert len(err.details) == 2
    joined = "\n".join(err.details)
    assert "tool.lockkeys.packages.a.verify: " in joined
    assert "tool.lockkeys.lockfiel: unknown key" in joined


# ---- effective policy ------------------------------------------------------------------------


def test_effective_policies(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        "lockkeys",
        SIGNERS
        + """
        [default]
        signers = ["corp", "alice"]
        threshold = 2

        [packages.listed]
        signers = ["bob", "alice"]

        [packages.inherits]
        verify = "signatures"

        [packages.hashes-only]
        verify = "hashes"

        [packages.unverified]
        verify = "none"
        reason = "local build"

        [packages.lower]
        threshold = 1
        """,
    )
    config = load_config(cwd=tmp_path)
    assert config.default.verify == "hashes+signatures"
    default = config.policy("not-configured")
    assert (default.verify, default.signers, default.threshold) == (
        "hashes+signatures",
        ("alice", "corp"),
        2,
    )
    listed = config.policy("Listed")
    assert (listed.verify, listed.signers, listed.threshold) == (
        "hashes+signatures",
        ("alice", "bob"),
        1,
    )
    inherits = config.policy("inherits")
    assert (inherits.verify, inherits.signers, inherits.threshold) == (
        "signatures",
        ("alice", "corp"),
        2,
    )
    hashes = config.policy("hashes_only")
    assert (hashes.verify, hashes.signers, hashes.threshold) == ("hashes", (), None)
    unverified = config.policy("unverified")
    assert (unverified.verify, unverified.reason) == ("none", "local build")
    assert config.policy("lower").threshold == 1


def test_models_construct_from_python_names() -> None:
    pkg = PackageConfig(signers=["a", "b"], threshold=2, allow_sdist=True)
    assert pkg.verify is None and pkg.allow_sdist
    assert DefaultConfig(signers=["a"]).verify == "hashes+signatures"
    assert DefaultConfig(signers=["a"]).threshold == 1
    assert DefaultConfig().verify == "hashes"
    with pytest.raises(ValueError, match="exceeds"):
        PackageConfig(signers=["a"], threshold=2)


def test_model_is_frozen(tmp_path: Path) -> None:
    write_config(tmp_path, "lockkeys", "")
    config = load_config(cwd=tmp_path)
    with pytest.raises(ValueError, match="frozen"):
        config.resolver = "uv"


def test_direct_construction_resolves_relative_to_config(tmp_path: Path) -> None:
    make_tree(tmp_path)
    config = LockkeysConfig(
        config_path=tmp_path / "lockkeys.toml",
        signers={"corp": Path("keys/corp.asc")},
        requirements=[Path("req.in")],
    )
    assert config.root == tmp_path
    assert config.signers["corp"] == tmp_path / "keys" / "corp.asc"
    assert config.requirements == [tmp_path / "req.in"]


# ---- digest ----------------------------------------------------------------------------------

DIGEST_BODY = (
    """
requirements = ["requirements.in"]
signature-stores = ["signatures"]

[[sources]]
name = "private"
url = "http://127.0.0.1:8081/simple/"

[[sources]]
name = "local"
path = "wheels"
"""
    + SIGNERS
    + """
[packages.broken]
signers = ["corp", "alice"]
threshold = 1
"""
)
LINES = ["requests>=2", "-c urllib3<3"]


def digest_of(tmp_path: Path, body: str, lines: list[str] = LINES, kind: str = "lockkeys") -> str:
    write_config(tmp_path, kind, body)
    return load_config(cwd=tmp_path).inputs_digest(lines)


def test_digest_is_stable_and_has_the_documented_form(tmp_path: Path) -> None:
    first = digest_of(tmp_path, DIGEST_BODY)
    assert first.startswith("sha256:") and len(first) == len("sha256:") + 64
    assert digest_of(tmp_path, DIGEST_BODY) == first


def test_digest_is_the_same_in_another_folder_and_file_kind(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b" / "deeper"
    a.mkdir()
    b.mkdir(parents=True)
    assert digest_of(a, DIGEST_BODY) == digest_of(b, DIGEST_BODY, kind="pyproject")


def test_digest_ignores_formatting_and_spelling(tmp_path: Path) -> None:
    base = digest_of(tmp_path, DIGEST_BODY)
    reformatted = (
        DIGEST_BODY.replace(" = ", "   =   ")
        .replace('["corp", "alice"]', '[ "alice",\n  "corp" ]')
        .replace("[packages.broken]", "\n# comment\n[packages.Broken]")
    )
    assert digest_of(tmp_path, reformatted) == base
    # Requirement spelling: name case, whitespace, specifier order.
    assert digest_of(tmp_path, DIGEST_BODY, ["Requests >= 2", "-c  URLLIB3 < 3"]) == base
    # An effective default written out changes nothing.
    explicit = DIGEST_BODY.replace("threshold = 1", 'threshold = 1\nverify = "hashes+signatures"')
    assert digest_of(tmp_path, explicit) == base
    with_default = DIGEST_BODY.replace(
        "[packages.broken]", '[default]\nverify = "hashes"\n[packages.broken]'
    )
    assert digest_of(tmp_path, with_default) == base


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("threshold = 1", "threshold = 2"),
        ('["corp", "alice"]', '["corp", "bob"]'),
        ('name = "private"', 'name = "privat"'),
        ("8081", "8082"),
        ('path = "wheels"', 'path = "wheels2"'),
        ('signature-stores = ["signatures"]', 'signature-stores = ["sigs"]'),
        ("threshold = 1", 'threshold = 1\nsubstitute = "1.0+corp.1"'),
        ("threshold = 1", 'threshold = 1\nreason = "why"'),
        ("threshold = 1", "threshold = 1\nallow-sdist = true"),
        ("threshold = 1", 'threshold = 1\nsource = "local"'),
        ("[packages.broken]", '[default]\nsigners = ["bob"]\n[packages.broken]'),
    ],
)
def test_digest_changes_with_inputs(tmp_path: Path, old: str, new: str) -> None:
    base = digest_of(tmp_path, DIGEST_BODY)
    assert old in DIGEST_BODY
    assert digest_of(tmp_path, DIGEST_BODY.replace(old, new)) != base


def test_digest_covers_resolver_environments_and_requires_python(tmp_path: Path) -> None:
    # uv locks universally, pip-tools for its own environment: the resolver is an input, and
    # so is what the lock must cover.
    base = digest_of(tmp_path, DIGEST_BODY)
    anchor = 'requirements = ["requirements.in"]'
    for extra in (
        'resolver = "uv"',
        "environments = [\"sys_platform == 'linux'\"]",
        'requires-python = ">=3.11"',
    ):
        changed = DIGEST_BODY.replace(anchor, f"{anchor}\n{extra}")
        assert changed != DIGEST_BODY
        assert digest_of(tmp_path, changed) != base, extra


def test_digest_changes_with_requirements_and_certificates(tmp_path: Path) -> None:
    base = digest_of(tmp_path, DIGEST_BODY)
    assert digest_of(tmp_path, DIGEST_BODY, ["requests>=2.1", "-c urllib3<3"]) != base
    assert digest_of(tmp_path, DIGEST_BODY, ["requests>=2"]) != base
    config = load_config(cwd=tmp_path)
    (tmp_path / "keys" / "bob.asc").write_text("another certificate\n", encoding="utf-8")
    assert config.inputs_digest(LINES) != base


def test_default_source_is_pypi(tmp_path: Path) -> None:
    write_config(tmp_path, "lockkeys", "")
    config = load_config(cwd=tmp_path)
    assert [(s.name, s.url, s.path) for s in config.sources] == [("pypi", DEFAULT_INDEX_URL, None)]
