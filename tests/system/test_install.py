"""raspberrypi/install.sh: lint, dry runs that touch nothing, and a full run against stub system commands.

Every run uses a fake layout (SPEAKER_PREFIX/ETC/STATE/UNIT_DIR) and puts stub versions of the commands
that change the system (apt-get, useradd, systemctl, ...) first on PATH; each stub only records its
arguments. So even a broken script cannot touch the machine running the tests.

The script runs from a copy of the checkout in a directory every user can enter: some runs switch to an
unprivileged user, and the clone itself may sit below a directory only its owner can enter (a home
directory, a mode-0700 temp dir), where that user would get "Permission denied".
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "raspberrypi" / "install.sh"

# commands that would change the system; in these tests they only log
MUTATING = ("apt-get", "useradd", "usermod", "userdel", "groupadd", "systemctl", "runuser", "chown",
            "loginctl", "pip", "pip3")

STUB = """#!/bin/sh
printf '%s\\n' "$(basename "$0") $*" >> "$STUB_LOG"
"""

# runuser: run the command after '--' as ourselves, so the fake `speaker check` runs
RUNUSER_STUB = STUB + """while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift
exec "$@"
"""

# The interpreter the installer makes its venv from: a fake venv whose pip and speaker only log.
PYTHON_STUB = """#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  printf '%s\\n' "python3 $*" >> "$STUB_LOG"
  for last; do :; done
  mkdir -p "$last/bin"
  printf '#!/bin/sh\\nexec %s "$@"\\n' "$REAL_PYTHON" > "$last/bin/python"
  cp "$(dirname "$0")/venv-pip" "$last/bin/pip"
  cp "$(dirname "$0")/venv-speaker" "$last/bin/speaker"
  chmod +x "$last/bin/python" "$last/bin/pip" "$last/bin/speaker"
  exit 0
fi
exec "$REAL_PYTHON" "$@"
"""

# pip in the fake venv. PIP_FAIL=network: fails as pip does without a network (no build step);
# PIP_FAIL=compile: the first run fails compiling a C extension, the next one works.
VENV_PIP = """#!/bin/sh
printf '%s\\n' "venv-pip $*" >> "$STUB_LOG"
case "${PIP_FAIL:-}" in
  network)
    echo "WARNING: Retrying (Retry(total=0)) after connection broken by 'NewConnectionError': /simple/numpy/"
    echo "ERROR: Could not find a version that satisfies the requirement numpy<3,>=1.26 (from room-speaker)"
    echo "ERROR: No matching distribution found for numpy<3,>=1.26" >&2
    exit 1 ;;
  compile)
    if [ ! -e "$STUB_LOG.compiled" ]; then
      touch "$STUB_LOG.compiled"
      echo "  Building wheel for webrtcvad-wheels (pyproject.toml): finished with status 'error'"
      echo "  error: command 'aarch64-linux-gnu-gcc' failed: No such file or directory" >&2
      echo "ERROR: Failed to build installable wheels for some pyproject.toml based projects (webrtcvad-wheels)"
      exit 1
    fi ;;
esac
exit 0
"""

VENV_SPEAKER = """#!/bin/sh
printf '%s\\n' "speaker $* key=${OPENAI_API_KEY:-unset}" >> "$STUB_LOG"
echo "speaker check: pretending"
exit "${CHECK_RC:-0}"
"""


@dataclass
class Layout:
    base: Path
    env: dict[str, str]
    log: Path
    script: Path

    @property
    def prefix(self) -> Path:
        return self.base / "opt"

    @property
    def etc(self) -> Path:
        return self.base / "etc"

    @property
    def state(self) -> Path:
        return self.base / "state"

    @property
    def units(self) -> Path:
        return self.base / "units"

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def run(self, *args: str, user: int | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.script), *args]
        if user is not None:
            cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout, check=False)


def _write_exe(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def _enterable_by_everyone(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents))


@functools.cache
def _public_python() -> str:
    """A Python >= 3.11 every user can run (the test's own venv may sit below /root or a 0700 home)."""
    for candidate in (sys.executable, shutil.which("python3"), "/usr/bin/python3"):
        if not candidate:
            continue
        real = Path(os.path.realpath(candidate))
        if real.is_file() and real.stat().st_mode & stat.S_IXOTH and _enterable_by_everyone(real.parent):
            ok = subprocess.run([str(real), "-c", "import sys; sys.exit(sys.version_info < (3, 11))"],
                                check=False, capture_output=True).returncode == 0
            if ok:
                return str(real)
    return sys.executable  # none found: the normal-user runs will say "Permission denied"


@pytest.fixture(scope="session")
def public_dir() -> Iterator[Path]:
    """A fresh directory that every user can enter (and so read what is below it)."""
    for base in (Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")):
        if base.is_dir() and os.access(base, os.W_OK) and _enterable_by_everyone(base):
            break
    else:
        pytest.skip("no writable directory here that every user can enter")
    path = Path(tempfile.mkdtemp(prefix="speaker-install-test-", dir=base))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def checkout(public_dir: Path) -> Path:
    """What install.sh reads from the checkout, copied below public_dir and readable by all."""
    dst = public_dir / "checkout"
    dst.mkdir()
    for name in ("pyproject.toml", "README.md", "speaker", "emulator", "config", "tools", "raspberrypi"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.is_file():
            shutil.copy2(src, dst / name)
    for path in (dst, *dst.rglob("*")):  # a clone made under umask 077 is readable by its owner only
        mode = path.stat().st_mode
        path.chmod(mode | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
                   | ((stat.S_IXGRP | stat.S_IXOTH) if path.is_dir() or mode & stat.S_IXUSR else 0))
    return dst


@pytest.fixture
def layout(public_dir: Path, checkout: Path) -> Iterator[Layout]:
    base = Path(tempfile.mkdtemp(prefix="layout-", dir=public_dir))
    base.chmod(0o755)  # a normal user's run must find the stubs (and so never reach a real command)
    try:
        yield _make_layout(base, checkout)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _make_layout(tmp_path: Path, checkout: Path) -> Layout:
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name in MUTATING:
        _write_exe(stubs / name, RUNUSER_STUB if name == "runuser" else STUB)
    _write_exe(stubs / "python3-stub", PYTHON_STUB)
    _write_exe(stubs / "venv-pip", VENV_PIP)
    _write_exe(stubs / "venv-speaker", VENV_SPEAKER)
    log = tmp_path / "calls.log"
    env = {
        "PATH": f"{stubs}:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "STUB_LOG": str(log),
        "REAL_PYTHON": _public_python(),
        "SPEAKER_PREFIX": str(tmp_path / "opt"),
        "SPEAKER_ETC": str(tmp_path / "etc"),
        "SPEAKER_STATE": str(tmp_path / "state"),
        "SPEAKER_UNIT_DIR": str(tmp_path / "units"),
        "SPEAKER_PYTHON": str(stubs / "python3-stub"),
    }
    log.touch(0o666)  # a stub run by a normal user can log too
    log.chmod(0o666)
    return Layout(tmp_path, env, log, checkout / "raspberrypi" / "install.sh")


def _tree(base: Path) -> set[str]:
    return {str(p.relative_to(base)) for p in base.rglob("*")}


# ------------------------------------------------------------------ lint and arguments


def test_shellcheck_is_clean() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    result = subprocess.run(["shellcheck", "--severity=style", str(SCRIPT)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "unknown argument: --bogus"),
        (["--source"], "--source needs a directory"),
        (["--purge"], "--purge only makes sense with --uninstall"),
        (["--uninstall", "--no-start"], "--no-start does not apply to --uninstall"),
        (["--dry-run", "--source", "/nonexistent/checkout"], "--source: no such directory"),
    ],
)
def test_argument_errors_print_usage_and_exit_2(layout: Layout, args: list[str], message: str) -> None:
    result = layout.run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "usage: install.sh" in result.stderr
    assert layout.calls() == []


def test_help(layout: Layout) -> None:
    result = layout.run("--help")
    assert result.returncode == 0
    assert "usage: install.sh" in result.stdout and "--uninstall" in result.stdout


def test_refuses_a_checkout_that_is_not_one(layout: Layout, tmp_path: Path) -> None:
    result = layout.run("--dry-run", "--source", str(tmp_path))
    assert result.returncode == 1
    assert "does not look like a room speaker checkout" in result.stderr


@pytest.mark.parametrize("bad", ["relative/dir", "/", "/etc", "/opt/spe aker"])
def test_refuses_dangerous_prefixes(layout: Layout, bad: str) -> None:
    layout.env["SPEAKER_PREFIX"] = bad
    result = layout.run("--uninstall", "--dry-run")
    assert result.returncode == 1
    assert "SPEAKER_PREFIX" in result.stderr
    assert layout.calls() == []


# ------------------------------------------------------------------ dry runs


REAL_PATHS = [Path(p) for p in ("/opt/speaker", "/etc/speaker", "/var/lib/speaker",
                                 "/etc/systemd/system/speaker.service")]


def test_dry_run_prints_every_step_and_touches_nothing(layout: Layout) -> None:
    before = _tree(layout.base)
    real_before = [p.exists() for p in REAL_PATHS]
    result = layout.run("--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    expected = [
        "Dry run: nothing will be changed",
        f"{layout.env['SPEAKER_PYTHON']} -m venv {layout.prefix}/venv",
        f"{layout.prefix}/venv/bin/pip install",
        "useradd --system",
        f"would write: {layout.etc}/speaker.yaml (mode 0640, owner root:speaker)",
        f"would write: {layout.etc}/tools/zigbee2mqtt.yaml",
        f"would write: {layout.etc}/secrets.env (mode 0600, owner root:root)",
        f"would write: {layout.units}/speaker.service (mode 0644, owner root:root)",
        "would run: systemctl daemon-reload",
        "would run: systemctl enable speaker.service",
        f"runuser -u speaker -- {layout.prefix}/venv/bin/speaker --config {layout.etc}/speaker.yaml check",
        "That was a dry run: nothing was changed.",
    ]
    for line in expected:
        assert line in out, f"missing {line!r} in:\n{out}"
    # the order a user reads: packages, user, venv, config, unit, systemd, check
    positions = [out.index(s) for s in ("==> Debian packages", "==> System user", "==> Python virtualenv",
                                        "==> Configuration", "==> systemd unit", "==> Checking the conf")]
    assert positions == sorted(positions)
    assert layout.calls() == [], "a dry run ran a command that changes the system"
    assert _tree(layout.base) == before
    assert [p.exists() for p in REAL_PATHS] == real_before


def test_dry_run_as_a_normal_user(layout: Layout) -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to switch to an unprivileged user")
    result = layout.run("--dry-run", user=65534)
    assert result.returncode == 0, result.stderr
    assert "That was a dry run" in result.stdout
    assert layout.calls() == []


def test_real_run_as_a_normal_user_is_refused(layout: Layout) -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to switch to an unprivileged user")
    result = layout.run(user=65534)
    assert result.returncode == 1
    assert "please run as root" in result.stderr and "--dry-run" in result.stderr
    assert layout.calls() == []


def test_piwheels_only_when_asked_or_on_32_bit_raspberry_pi_os(layout: Layout) -> None:
    piwheels = "--extra-index-url https://www.piwheels.org/simple"
    assert piwheels not in layout.run("--dry-run").stdout  # x86_64 / aarch64: PyPI has the wheels
    layout.env["SPEAKER_ARCH"] = "aarch64"
    assert piwheels not in layout.run("--dry-run").stdout
    layout.env["SPEAKER_PIWHEELS"] = "yes"
    assert piwheels in layout.run("--dry-run").stdout
    layout.env["SPEAKER_PIWHEELS"] = "maybe"
    assert "SPEAKER_PIWHEELS must be auto, yes or no" in layout.run("--dry-run").stderr


def test_uninstall_dry_run_lists_removals_and_keeps_data(layout: Layout) -> None:
    (layout.prefix / "venv" / "bin").mkdir(parents=True)
    layout.etc.mkdir()
    (layout.etc / "speaker.yaml").write_text("# mine\n")
    layout.state.mkdir()
    layout.units.mkdir()
    (layout.units / "speaker.service").write_text("[Service]\n")
    layout.env["SPEAKER_USER"] = "nobody"  # a user that exists; the stubbed userdel only logs
    before = _tree(layout.base)

    result = layout.run("--uninstall", "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for line in ["would run: systemctl disable --now speaker.service",
                 f"would run: rm -f -- {layout.units}/speaker.service",
                 f"would run: rm -rf -- {layout.prefix}/venv",
                 "would run: userdel nobody",
                 f"{layout.etc} (speaker.yaml, tools, secrets.env) and {layout.state} (timers, volume) are "
                 "still there"]:
        assert line in out, f"missing {line!r} in:\n{out}"
    assert f"rm -rf -- {layout.etc}" not in out

    purge = layout.run("--uninstall", "--purge", "--dry-run").stdout
    assert f"would run: rm -rf -- {layout.etc}" in purge and f"would run: rm -rf -- {layout.state}" in purge
    assert layout.calls() == []
    assert _tree(layout.base) == before


# ------------------------------------------------------------------ a real run against stubs


@pytest.fixture
def as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("a (stubbed) real run needs root: the script refuses otherwise")


@pytest.mark.usefixtures("as_root")
def test_install_upgrade_uninstall_keep_the_users_files(layout: Layout) -> None:
    layout.env["SPEAKER_ASSUME_SYSTEMD"] = "1"

    # ---- first install
    result = layout.run()
    assert result.returncode == 0, result.stdout + result.stderr
    calls = layout.calls()
    assert any(c.startswith("useradd --system --user-group --groups audio") for c in calls)
    assert any(c.startswith("python3 -m venv") for c in calls)
    assert any(c.startswith("venv-pip install") for c in calls)
    assert "systemctl daemon-reload" in calls and "systemctl enable speaker.service" in calls
    assert "systemctl restart speaker.service" not in calls, "started with an empty API key"
    assert "not starting it yet" in result.stdout

    config = (layout.etc / "speaker.yaml").read_text()
    shipped = (ROOT / "config" / "speaker.yaml").read_text()
    assert config == shipped.replace("../tools/", "tools/")  # packs sit next to it in /etc/speaker/tools
    for pack in (ROOT / "tools").glob("*.yaml"):
        assert (layout.etc / "tools" / pack.name).read_text() == pack.read_text()
    secrets = layout.etc / "secrets.env"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert "OPENAI_API_KEY=" in secrets.read_text()
    assert stat.S_IMODE((layout.etc / "speaker.yaml").stat().st_mode) == 0o640
    unit = (layout.units / "speaker.service").read_text()
    assert f"ExecStart={layout.prefix}/venv/bin/speaker --config {layout.etc}/speaker.yaml run" in unit
    assert f"EnvironmentFile=-{layout.etc}/secrets.env" in unit
    assert not re.search(r"(?<![\w.-])/(opt|etc)/speaker", unit), "a default path was not rewritten"
    # the check ran as the service would, with the (empty) key from secrets.env
    assert f"speaker --config {layout.etc}/speaker.yaml check key=unset" in calls

    # ---- the user edits config and secrets, then upgrades
    (layout.etc / "speaker.yaml").write_text("mqtt: {site_id: attic}\n")
    secrets.write_text('OPENAI_API_KEY="sk-test-123"\n')
    (layout.etc / "tools" / "zigbee2mqtt.yaml").write_text("# my devices\n")
    layout.log.unlink()

    result = layout.run()
    assert result.returncode == 0, result.stdout + result.stderr
    calls = layout.calls()
    assert (layout.etc / "speaker.yaml").read_text() == "mqtt: {site_id: attic}\n"
    assert secrets.read_text() == 'OPENAI_API_KEY="sk-test-123"\n'
    assert (layout.etc / "tools" / "zigbee2mqtt.yaml").read_text() == "# my devices\n"
    assert not any(c.startswith("python3 -m venv") for c in calls), calls  # reused
    assert any(c.startswith("venv-pip install") for c in calls)  # but upgraded
    assert "systemctl daemon-reload" not in calls  # the unit did not change
    assert "systemctl restart speaker.service" in calls
    assert f"speaker --config {layout.etc}/speaker.yaml check key=sk-test-123" in calls, calls
    assert "sk-test-123" not in result.stdout + result.stderr
    assert "The speaker is running" in result.stdout

    # ---- a failing check is reported, not fatal
    layout.env["CHECK_RC"] = "1"
    result = layout.run("--no-start")
    assert result.returncode == 0
    assert "Something is still missing" in result.stdout
    assert "systemctl restart speaker.service" not in layout.calls()[-10:]

    # ---- uninstall keeps config and state; purge removes them
    layout.log.unlink()
    result = layout.run("--uninstall")
    assert result.returncode == 0, result.stdout + result.stderr
    calls = layout.calls()
    assert "systemctl disable --now speaker.service" in calls
    assert not (layout.units / "speaker.service").exists()
    assert not (layout.prefix / "venv").exists()
    assert (layout.etc / "speaker.yaml").exists() and layout.state.exists()
    result = layout.run("--uninstall", "--purge")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not layout.etc.exists() and not layout.state.exists()


# ------------------------------------------------------------------ no systemd, pip failures, --with-demo


def _stub(layout: Layout, name: str, text: str) -> None:
    _write_exe(Path(layout.env["PATH"].split(":")[0]) / name, text)


@pytest.mark.usefixtures("as_root")
def test_without_systemd_it_says_what_was_not_done(layout: Layout) -> None:
    if Path("/run/systemd/system").exists():
        pytest.skip("systemd runs on this machine: the no-systemd path cannot be taken here")
    result = layout.run()
    assert result.returncode == 0, result.stdout + result.stderr
    calls = layout.calls()
    assert not any(c.startswith("systemctl") for c in calls), calls
    assert (layout.units / "speaker.service").exists()  # the files are installed all the same
    assert "systemd is not running on this machine" in result.stderr
    assert "NOT enabled" in result.stderr and "NOT started" in result.stderr
    assert "sudo systemctl daemon-reload && sudo systemctl enable --now speaker" in result.stderr
    assert "Start the service with" not in result.stdout


@pytest.mark.usefixtures("as_root")
def test_a_systemctl_that_cannot_reach_systemd_is_explained(layout: Layout) -> None:
    layout.env["SPEAKER_ASSUME_SYSTEMD"] = "1"  # /run/systemd/system "exists"; systemctl cannot connect
    _stub(layout, "systemctl", STUB + "echo 'Failed to connect to bus: No such file or directory' >&2\nexit 1\n")
    result = layout.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert layout.calls().count("systemctl show-environment") == 1
    assert not any(c.startswith("systemctl enable") for c in layout.calls())
    assert "systemctl cannot talk to systemd (it says: Failed to connect to bus: No such file or directory)" \
        in result.stderr
    assert "NOT enabled" in result.stderr and "NOT started" in result.stderr


@pytest.mark.usefixtures("as_root")
def test_a_pip_failure_without_a_build_step_installs_no_compilers(layout: Layout) -> None:
    _stub(layout, "dpkg-query", "#!/bin/sh\nexit 1\n")  # nothing installed: compilers would be "missing"
    layout.env["PIP_FAIL"] = "network"
    result = layout.run()
    assert result.returncode == 1
    calls = layout.calls()
    assert [c for c in calls if c.startswith("venv-pip install")] != []
    assert not any("build-essential" in c or "python3-dev" in c for c in calls), calls
    assert len([c for c in calls if c.startswith("venv-pip install")]) == 1  # the same failure, not retried
    assert "No matching distribution found for numpy" in result.stderr  # pip's own error, repeated last
    assert "nothing had to be compiled" in result.stderr
    assert "run this again:  sudo" in result.stderr


@pytest.mark.usefixtures("as_root")
def test_a_pip_failure_compiling_an_extension_installs_compilers_and_retries(layout: Layout) -> None:
    _stub(layout, "dpkg-query", "#!/bin/sh\nexit 1\n")
    layout.env["PIP_FAIL"] = "compile"
    result = layout.run("--no-start")
    assert result.returncode == 0, result.stdout + result.stderr
    calls = layout.calls()
    pips = [i for i, c in enumerate(calls) if c.startswith("venv-pip install")]
    compilers = [i for i, c in enumerate(calls)
                 if c.startswith("apt-get install") and c.endswith("python3-dev build-essential")]
    assert len(pips) == 2 and len(compilers) == 1 and pips[0] < compilers[0] < pips[1], calls
    assert "pip had to compile a dependency" in result.stderr


def _source_with(tmp_path: Path, checkout: Path, *, emulator: bool) -> Path:
    src = tmp_path / ("with-emulator" if emulator else "without-emulator")
    shutil.copytree(checkout, src, ignore=shutil.ignore_patterns("emulator"))
    if emulator:
        (src / "emulator").mkdir()
        (src / "emulator" / "pyproject.toml").write_text('[project]\nname = "room-speaker-emulator"\n')
    return src


def test_with_demo_installs_the_emulator_distribution_too(layout: Layout, checkout: Path, tmp_path: Path) -> None:
    src = _source_with(tmp_path, checkout, emulator=True)
    out = layout.run("--dry-run", "--with-demo", "--source", str(src)).stdout
    pip = next(line for line in out.splitlines() if "venv/bin/pip install" in line)
    assert pip.endswith("/tmp/speaker-install.XXXXXX /tmp/speaker-install.XXXXXX/emulator"), pip
    plain = layout.run("--dry-run", "--source", str(src)).stdout
    assert "/emulator" not in next(line for line in plain.splitlines() if "venv/bin/pip install" in line)

    missing = layout.run("--dry-run", "--with-demo", "--source", str(_source_with(tmp_path, checkout, emulator=False)))
    assert missing.returncode == 1
    assert "has no emulator/ folder (room-speaker-emulator)" in missing.stderr


# ------------------------------------------------------------------ Python 3.13 (trixie)


def test_installs_imports_and_detects_under_python_3_13(checkout: Path, tmp_path: Path) -> None:
    python = shutil.which("python3.13")
    if python is not None and subprocess.run([python, "-c", "import venv"], capture_output=True,
                                             timeout=60, check=False).returncode != 0:
        python = None  # e.g. a pyenv shim for a version that is not installed
    if python is None:
        pytest.skip("no python3.13 on this machine (Debian 12 has none); `sudo raspberrypi/check-trixie.sh` "
                    "checks Python 3.13 in a Debian 13 chroot")
    venv = tmp_path / "venv313"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
    src = tmp_path / "src"
    shutil.copytree(checkout, src)  # pip writes build files into the tree it installs
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(src)],
                         capture_output=True, text=True, timeout=900, check=False)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    wake = subprocess.run([str(venv / "bin" / "speaker"), "wake-test", str(src / "speaker/assets/demo_input.wav")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert wake.returncode == 0, wake.stderr
    assert '"model": "hey_jarvis"' in wake.stdout
