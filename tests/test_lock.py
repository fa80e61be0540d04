"""requirements.lock is the environment: every package pinned, in step with the direct pins, installed as it says."""

import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+, as the lock

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement).group(0)).lower()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = PIN.match(line.strip())
        assert match, f"{path.name}: not an exact pin: {line!r}"
        pins[_name(match.group(1))] = match.group(2)
    return pins


def test_the_lock_pins_every_package_exactly():
    lock = _pins(ROOT / "requirements.lock")
    assert len(lock) > 100  # the transitive closure, not the dozen direct dependencies
    for name, version in _pins(ROOT / "constraints.txt").items():
        assert lock.get(name) == version, f"constraints.txt: {name}=={version}, the lock: {lock.get(name)}; make lock"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    missing = {_name(r) for r in wanted} - set(lock) - {"gssd-utils"}
    assert not missing, f"pyproject.toml depends on {sorted(missing)}, absent from requirements.lock: make lock"


def test_the_lock_names_the_python_it_was_resolved_for():
    header = re.search(r"pip-compile with Python (\d+\.\d+)", (ROOT / "requirements.lock").read_text())
    assert header and header.group(1) == "{}.{}".format(*sys.version_info[:2])


def test_the_environment_under_test_is_the_lock():
    differ = {}
    for name, version in _pins(ROOT / "requirements.lock").items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            differ[name] = (version, installed)
    assert not differ, f"installed packages differ from requirements.lock (locked, installed): {differ}; make install"
