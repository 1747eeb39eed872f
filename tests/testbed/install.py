"""Install the real servers the integration tests run against, if they are missing.

``python -m tests.testbed.install`` is what ``make test`` runs before pytest. It checks, in well
under a second when everything is there, for:

- Debian's ``prometheus`` (brings ``promtool``) and ``prometheus-alertmanager`` (brings ``amtool``),
- Debian's ``libpython3.11``, which the ``rotel-agent`` binary links against and whose standard
  library its Python processors run on,
- the ``rotel`` wheel from PyPI in the interpreter running this script (``sys.executable``),
- Debian's ``chromium`` and ``chromium-driver``, which the live view's browser tests drive through
  ``selenium`` (nothing downloads a browser build).

What is missing is installed with ``apt-get`` (as root, after one ``apt-get update``) and ``pip``.
A machine where that cannot happen still gets a test run: the fixtures skip the tests that need the
missing server. Under ``CI=true`` a server that could not be installed fails the run instead, so a
green CI always means the real round trips ran.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROTEL_REQUIREMENT = "rotel==0.0.1a15"
INSTALL_HINT = "run `python -m tests.testbed.install` (as root for the Debian packages)"
LIBPYTHON_NAME = "libpython3.11.so.1.0"
LIBPYTHON_DIRS = (
    "/usr/lib/x86_64-linux-gnu",
    "/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib",
)


@dataclass(frozen=True)
class Requirement:
    """One thing the test bed needs: how to see that it is there and how to get it."""

    name: str
    kind: str  # "apt" or "pip"
    package: str

    def present(self) -> bool:
        return _CHECKS[self.name]()


def _has_binaries(*names: str) -> bool:
    return all(shutil.which(name) for name in names)


def has_libpython() -> bool:
    """True when the shared Python 3.11 runtime ``rotel-agent`` links against is installed."""
    return any(Path(directory, LIBPYTHON_NAME).exists() for directory in LIBPYTHON_DIRS)


def rotel_agent_path() -> Path | None:
    """Path of the ``rotel-agent`` binary shipped inside the ``rotel`` wheel, if installed."""
    spec = importlib.util.find_spec("rotel")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location, "rotel-agent")
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


_CHECKS = {
    "prometheus": lambda: _has_binaries("prometheus", "promtool"),
    "prometheus-alertmanager": lambda: _has_binaries("prometheus-alertmanager", "amtool"),
    "libpython3.11": has_libpython,
    "rotel": lambda: rotel_agent_path() is not None,
    "chromium": lambda: _has_binaries("chromium"),
    "chromium-driver": lambda: _has_binaries("chromedriver"),
}

REQUIREMENTS = (
    Requirement("prometheus", "apt", "prometheus"),
    Requirement("prometheus-alertmanager", "apt", "prometheus-alertmanager"),
    Requirement("libpython3.11", "apt", "libpython3.11"),
    Requirement("rotel", "pip", ROTEL_REQUIREMENT),
    Requirement("chromium", "apt", "chromium"),
    Requirement("chromium-driver", "apt", "chromium-driver"),
)


def missing() -> list[Requirement]:
    """The requirements that are not installed right now."""
    return [requirement for requirement in REQUIREMENTS if not requirement.present()]


def _run(command: list[str]) -> bool:
    print("+", " ".join(command), flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(command, env=env, check=False)
    return result.returncode == 0


def _install_apt(packages: list[str]) -> bool:
    if not packages:
        return True
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(f"cannot install {', '.join(packages)}: needs apt-get as root", file=sys.stderr)
        return False
    # A failed update (a mirror hiccup) still leaves the old lists, which may be enough.
    _run(["apt-get", "update", "-qq"])
    return _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages])


def _install_pip(requirements: list[str]) -> bool:
    if not requirements:
        return True
    return _run([sys.executable, "-m", "pip", "install", "-q", *requirements])


def install(wanted: list[Requirement]) -> None:
    """Try to install every wanted requirement; the caller checks afterwards what is still missing."""
    _install_apt([requirement.package for requirement in wanted if requirement.kind == "apt"])
    _install_pip([requirement.package for requirement in wanted if requirement.kind == "pip"])
    importlib.invalidate_caches()


def in_ci(environ: dict[str, str] | None = None) -> bool:
    """CI runs set ``CI=true``: there a missing server is a failure, not a skip."""
    value = (environ if environ is not None else os.environ).get("CI", "")
    return value.strip().lower() in {"1", "true", "yes"}


def main() -> int:
    wanted = missing()
    if not wanted:
        print("testbed: prometheus, alertmanager, rotel, libpython3.11 and chromium are installed")
        return 0
    print("testbed: installing " + ", ".join(requirement.name for requirement in wanted), flush=True)
    install(wanted)
    still_missing = missing()
    if not still_missing:
        print("testbed: everything installed")
        return 0
    names = ", ".join(requirement.name for requirement in still_missing)
    if in_ci():
        print(
            f"testbed: could not install {names}; CI=true needs every server: {INSTALL_HINT}", file=sys.stderr
        )
        return 1
    print(f"testbed: still missing {names}; integration tests that need them will be skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
