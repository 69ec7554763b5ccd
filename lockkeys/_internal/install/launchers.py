"""What a console-script launcher must hold: derived from the locked wheel, never read from RECORD.

An installer writes one launcher into the scripts folder (``bin/``) for each
``console_scripts`` / ``gui_scripts`` entry point of a wheel. The launcher is not in the wheel,
so no hash of the wheel covers it, and the installed ``RECORD`` (which lists its hash) is as
easy to edit as the launcher. Its expected bytes are derived instead, from the locked,
verified wheel's ``entry_points.txt`` and the target environment:

- a header that runs one of the environment's own interpreters (``sys.executable`` of the
  target, or ``python``/``python3``/``python3.X`` in its scripts folder): ``#!INTERPRETER``,
  or, where the path is too long or has a space, the ``/bin/sh`` form
  ``#!/bin/sh`` / ``'''exec' INTERPRETER "$0" "$@"`` / ``' '''`` with the quoting installers use;
- then, byte for byte, the body that one of the installers lockkeys runs writes for that entry
  point: pypa ``installer`` (``--installer builtin``, generated here by that library), pip
  (the template of pip 25 and later, and the one before it) or uv.

A launcher is accepted only when it is exactly one of these header and body pairs: an edited
body, another interpreter, extra lines or a header that runs anything else is a difference.
Scripts a wheel ships in ``.data/scripts`` whose first line is ``#!python`` get only that line
rewritten; their expected header is derived the same way and the rest must be the wheel's bytes.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
from dataclasses import dataclass

from installer.scripts import Script

from lockkeys._internal.install.environment import TargetEnvironment

MAX_LAUNCHER = 64 * 1024

# pip >= 25 (pip/_internal/operations/install/wheel.py, PipScriptMaker.script_template)
_PIP = """\
import sys
from {module} import {import_name}
if __name__ == '__main__':
    sys.argv[0] = sys.argv[0].removesuffix('.exe')
    sys.exit({func}())
"""
# pip before 25 (the same class, before the `re` import was dropped)
_PIP_OLD = """\
# -*- coding: utf-8 -*-
import re
import sys
from {module} import {import_name}
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit({func}())
"""
# uv (crates/uv-install-wheel, the posix launcher script)
_UV = """\
# -*- coding: utf-8 -*-
import sys
from {module} import {import_name}
if __name__ == "__main__":
    if sys.argv[0].endswith("-script.pyw"):
        sys.argv[0] = sys.argv[0][:-11]
    elif sys.argv[0].endswith(".exe"):
        sys.argv[0] = sys.argv[0][:-4]
    sys.exit({func}())
"""
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class EntryPoint:
    """One console or gui script of a wheel: ``name = module:attr``."""

    name: str
    module: str
    attr: str
    section: str  # "console" | "gui"

    def spec(self) -> str:
        """The entry point as `name = module:attr`."""
        return f"{self.name} = {self.module}:{self.attr}"

    def bodies(self) -> tuple[bytes, ...]:
        """What each supported installer writes after the header."""
        values = {"module": self.module, "import_name": self.attr.split(".")[0]}
        script = Script(
            self.name, self.module, self.attr, "gui" if self.section == "gui" else "console"
        )
        generated = script.generate("/x", "posix")[1]
        ours = generated.split(b"\n", 1)[1]
        others = tuple(t.format(func=self.attr, **values).encode() for t in (_PIP, _PIP_OLD, _UV))
        return (ours, *others)


def entry_points(text: str) -> tuple[EntryPoint, ...]:
    """The scripts an ``entry_points.txt`` asks installers to write (unusable ones dropped:
    installers refuse them, and a launcher under such a name is no distribution's)."""
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text)
    except configparser.Error:
        return ()
    found: dict[str, EntryPoint] = {}
    for section, kind in (("console_scripts", "console"), ("gui_scripts", "gui")):
        if not parser.has_section(section):
            continue
        for name, value in parser.items(section):
            module, _, attr = value.split("[", 1)[0].strip().partition(":")
            module, attr = module.strip(), attr.strip()
            if not name or "/" in name or name in (".", ".."):
                continue
            if _IDENTIFIER.match(module) and _IDENTIFIER.match(attr):
                found.setdefault(name, EntryPoint(name, module, attr, kind))
    return tuple(sorted(found.values(), key=lambda e: e.name))


def interpreters(env: TargetEnvironment) -> tuple[str, ...]:
    """The environment's own interpreters a launcher header may name."""
    names = {env.python}
    scripts = env.paths.get("scripts")
    if scripts:
        version = env.markers.get("python_version", "")
        for name in ("python", "python3", f"python{version}"):
            names.add(os.path.join(scripts, name))
    return tuple(sorted(n for n in names if n))


def _quotings(executable: str) -> set[str]:
    forms = {shlex.quote(executable)}
    if "'" not in executable:
        forms.add(f"'{executable}'")
    if not any(c in executable for c in '$`"\\!'):
        forms.add(f'"{executable}"')
    return forms


def headers(executables: tuple[str, ...], post: str = "") -> set[bytes]:
    """Every header a supported installer writes to run one of ``executables`` (``post``:
    arguments from a ``#!python`` line, which some installers keep and others drop)."""
    found: set[bytes] = set()
    for executable in executables:
        for extra in {post, ""}:
            if not any(c.isspace() for c in executable):
                found.add(f"#!{executable}{extra}\n".encode())
            for quoted in _quotings(executable):
                found.add(f"#!/bin/sh\n'''exec' {quoted}{extra} \"$0\" \"$@\"\n' '''\n".encode())
    return found


def split_header(data: bytes) -> tuple[bytes, bytes]:
    """A script's header (the ``#!`` line, or the three lines of the ``/bin/sh`` form) and
    the rest."""
    lines = data.split(b"\n", 3)
    if data.startswith(b"#!/bin/sh\n") and len(lines) >= 3:
        size = len(lines[0]) + len(lines[1]) + len(lines[2]) + 3
        return data[:size], data[size:]
    first, _, rest = data.partition(b"\n")
    return first + b"\n", rest


def launcher_problem(entry: EntryPoint, data: bytes, executables: tuple[str, ...]) -> str | None:
    """Why ``data`` is not a launcher an installer writes for ``entry`` (None: it is one)."""
    header, body = split_header(data)
    if header not in headers(executables):
        return f"launcher for {entry.spec()} does not run this environment's interpreter"
    if body not in entry.bodies():
        return f"launcher differs from what an installer writes for {entry.spec()}"
    return None


__all__ = [
    "MAX_LAUNCHER",
    "EntryPoint",
    "entry_points",
    "headers",
    "interpreters",
    "launcher_problem",
    "split_header",
]
