"""pip-syntax requirement files: what is read, what is refused, and where errors point."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockkeys._internal.requirements import (
    RequirementSet,
    check_requirement,
    normalize_requirement,
    read_requirement_files,
)
from lockkeys.errors import InputError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("requests", "requests"),
        ("Requests>=2.0", "requests>=2.0"),
        ("Foo_Bar.Baz == 1.0", "foo-bar-baz==1.0"),
        ("pkg<3,>=2", "pkg<3,>=2"),
        ("pkg>=2,<3", "pkg<3,>=2"),
        ("pkg[Socks,security]", "pkg[security,socks]"),
        ("pkg[b_x,a]>=1", "pkg[a,b-x]>=1"),
        ("pkg ; python_version<'3.12'", 'pkg; python_version < "3.12"'),
        (
            "pkg[x]>=1; sys_platform == 'linux' and python_version >= '3.11'",
            'pkg[x]>=1; sys_platform == "linux" and python_version >= "3.11"',
        ),
        ("pkg @ https://x.test/pkg-1.0.tar.gz", "pkg @ https://x.test/pkg-1.0.tar.gz"),
    ],
)
def test_normalize_requirement(line: str, expected: str) -> None:
    assert normalize_requirement(line) == expected
    assert normalize_requirement(expected) == expected


def test_normalize_requirement_rejects_invalid() -> None:
    with pytest.raises(InputError, match="invalid requirement"):
        normalize_requirement("pkg==")


def test_reads_comments_blank_lines_and_continuations(tmp_path: Path) -> None:
    req = write(
        tmp_path / "requirements.in",
        "# a comment\n"
        "\n"
        "Requests>=2  # trailing comment\n"
        "flask \\\n"
        "  >=3 \\\n"
        "  ; python_version >= '3.11'\n"
        "   \n"
        "name  #comment\n"
        "requests>=2\n",
    )
    reqs = read_requirement_files([req])
    assert reqs == RequirementSet(
        requirements=[
            "requests>=2",
            'flask>=3; python_version >= "3.11"',
            "name",
        ],
        constraints=[],
    )


def test_name_hash_without_space_is_not_a_comment(tmp_path: Path) -> None:
    # pip only treats '#' as a comment at line start or after whitespace.
    req = write(tmp_path / "r.in", "pkg#frag\n")
    with pytest.raises(InputError):
        read_requirement_files([req])


def test_includes_relative_to_including_file(tmp_path: Path) -> None:
    write(tmp_path / "base" / "common.in", "six\n-c ../pins/constraints.txt\n")
    write(tmp_path / "pins" / "constraints.txt", "six==1.16.0\n-r more.txt\n")
    write(tmp_path / "pins" / "more.txt", "idna<4\n")
    top = write(
        tmp_path / "requirements.in", "requests\n-r base/common.in\n--requirement=extra.in\n"
    )
    write(tmp_path / "extra.in", "attrs\n")
    reqs = read_requirement_files([top])
    assert reqs.requirements == ["requests", "six", "attrs"]
    # -r inside a constraints file reads more constraints.
    assert reqs.constraints == ["six==1.16.0", "idna<4"]


@pytest.mark.parametrize("spelling", ["-r other.in", "-rother.in", "--requirement other.in"])
def test_include_spellings(tmp_path: Path, spelling: str) -> None:
    write(tmp_path / "other.in", "attrs\n")
    top = write(tmp_path / "r.in", f"{spelling}\n")
    assert read_requirement_files([top]).requirements == ["attrs"]


@pytest.mark.parametrize(
    "spelling", ["-c c.txt", "-cc.txt", "--constraint c.txt", "--constraint=c.txt"]
)
def test_constraint_spellings(tmp_path: Path, spelling: str) -> None:
    write(tmp_path / "c.txt", "attrs<24\n")
    top = write(tmp_path / "r.in", f"attrs\n{spelling}\n")
    assert read_requirement_files([top]) == RequirementSet(["attrs"], ["attrs<24"])


def test_diamond_include_is_read_once(tmp_path: Path) -> None:
    write(tmp_path / "shared.in", "attrs\n")
    write(tmp_path / "a.in", "-r shared.in\nidna\n")
    write(tmp_path / "b.in", "-r shared.in\n")
    top = write(tmp_path / "r.in", "-r a.in\n-r b.in\n")
    assert read_requirement_files([top]).requirements == ["attrs", "idna"]


def test_several_top_level_files(tmp_path: Path) -> None:
    a = write(tmp_path / "a.in", "attrs\n")
    b = write(tmp_path / "b.in", "idna\nattrs\n")
    assert read_requirement_files([a, b]).requirements == ["attrs", "idna"]


def test_include_cycle_is_reported_with_the_chain(tmp_path: Path) -> None:
    write(tmp_path / "a.in", "attrs\n-r b.in\n")
    write(tmp_path / "b.in", "# comment\n-r a.in\n")
    top = tmp_path / "a.in"
    with pytest.raises(InputError) as info:
        read_requirement_files([top])
    err = info.value
    assert err.file == f"{tmp_path / 'b.in'}:2"
    assert "include each other" in err.message
    assert f"{top} -> {tmp_path / 'b.in'} -> {top}" in err.message


def test_self_include_is_a_cycle(tmp_path: Path) -> None:
    top = write(tmp_path / "r.in", "-r r.in\n")
    with pytest.raises(InputError, match="include each other"):
        read_requirement_files([top])


def test_missing_include_names_the_including_line(tmp_path: Path) -> None:
    top = write(tmp_path / "r.in", "attrs\n-r nope.in\n")
    with pytest.raises(InputError) as info:
        read_requirement_files([top])
    assert info.value.file == f"{top}:2"
    assert "not found" in info.value.message


def test_missing_top_level_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_requirement_files([tmp_path / "nope.in"])
    assert info.value.file == str(tmp_path / "nope.in")


REFUSALS: list[tuple[str, str, str]] = [
    # (id, line, fragment of the message)
    ("invalid", "pkg==", "invalid requirement"),
    ("invalid-name", "-bad-name", "unsupported option"),
    ("index-url", "-i https://other.test/simple/", "[[tool.lockkeys.sources]]"),
    (
        "index-url-long",
        "--index-url https://other.test/simple/",
        "[[tool.lockkeys.sources]]",
    ),
    (
        "index-url-eq",
        "--index-url=https://other.test/simple/",
        "[[tool.lockkeys.sources]]",
    ),
    ("extra-index", "--extra-index-url https://x.test/", "[[tool.lockkeys.sources]]"),
    ("find-links", "-f ./wheels", "[[tool.lockkeys.sources]]"),
    ("find-links-long", "--find-links ./wheels", "[[tool.lockkeys.sources]]"),
    ("trusted-host", "--trusted-host x.test", "[[tool.lockkeys.sources]]"),
    ("no-index", "--no-index", "[[tool.lockkeys.sources]]"),
    ("editable", "-e ./src/pkg", "cannot be locked by signer"),
    ("editable-long", "--editable git+https://x.test/p.git#egg=p", "cannot be locked by signer"),
    ("url-req", "pkg @ https://x.test/pkg-1.0.tar.gz", "cannot be locked by signer"),
    ("file-url-req", "pkg @ file:///tmp/pkg-1.0-py3-none-any.whl", "cannot be locked by signer"),
    ("bare-url", "https://x.test/pkg-1.0-py3-none-any.whl", "cannot be locked by signer"),
    ("bare-path", "./vendor/pkg", "cannot be locked by signer"),
    ("bare-archive", "pkg-1.0.tar.gz", "cannot be locked by signer"),
    ("hash-trailing", "pkg==1.0 --hash=sha256:" + "0" * 64, "--hash is not allowed"),
    ("hash-trailing-marker", "pkg==1.0; python_version>'3' --hash sha256:00", "--hash"),
    ("require-hashes", "--require-hashes", "--require-hashes is not allowed"),
    ("pre", "--pre", "unsupported option --pre"),
    ("trailing-other-option", "pkg --config-settings a=b", "unsupported option --config-settings"),
    ("include-without-file", "-r", "needs a file name"),
]


@pytest.mark.parametrize(
    ("line", "fragment"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_refusals_name_file_and_line(tmp_path: Path, line: str, fragment: str) -> None:
    top = write(tmp_path / "requirements.in", f"# header\nattrs\n{line}\n")
    with pytest.raises(InputError) as info:
        read_requirement_files([top])
    assert info.value.file == f"{top}:3"
    assert fragment in info.value.message
    assert str(info.value).startswith(f"{top}:3: ")


def test_refusal_in_continued_line_points_at_its_first_line(tmp_path: Path) -> None:
    top = write(tmp_path / "r.in", "attrs\nflask \\\n  --hash=sha256:00\n")
    with pytest.raises(InputError) as info:
        read_requirement_files([top])
    assert info.value.file == f"{top}:2"


def test_refusal_in_included_file_names_that_file(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "inner.in", "attrs\n--index-url https://x.test/\n")
    top = write(tmp_path / "r.in", "-r sub/inner.in\n")
    with pytest.raises(InputError) as info:
        read_requirement_files([top])
    assert info.value.file == f"{tmp_path / 'sub' / 'inner.in'}:2"
    assert "[[tool.lockkeys.sources]]" in (info.value.fix or "")


def test_quoted_marker_text_is_not_an_option(tmp_path: Path) -> None:
    top = write(tmp_path / "r.in", "pkg; platform_release == '5.0 -rc1'\n")
    assert read_requirement_files([top]).requirements == ['pkg; platform_release == "5.0 -rc1"']


def test_check_requirement_names_the_given_place() -> None:
    assert check_requirement(" Attrs >= 1 ", file="pyproject.toml") == "attrs>=1"
    with pytest.raises(InputError) as info:
        check_requirement("pkg @ https://x.test/p.whl", file="pyproject.toml")
    assert info.value.file == "pyproject.toml"


def test_not_utf8(tmp_path: Path) -> None:
    top = tmp_path / "r.in"
    top.write_bytes(b"caf\xe9\n")
    with pytest.raises(InputError, match="UTF-8"):
        read_requirement_files([top])
