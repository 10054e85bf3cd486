#!/usr/bin/env python3
"""Checks hellod's systemd units and its install, printing TAP.

    test_units.py verify   [PATHS]   systemd-analyze verify, each unit
    test_units.py security [PATHS] --max-exposure UNIT=TENTHS...
                                     systemd-analyze security --offline=true
    test_units.py install  [PATHS]   meson install --destdir, then the layout

PATHS are the options meson passes (see systemd/meson.build): where the
generated units are, the built binary, and the directories the build
installs to.  A missing tool is a failure that names the package to install,
never a skip: a suite that passes without checking anything hides a broken
unit until it reaches a real machine.
"""

import argparse
import filecmp
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

# Exec lines may start with these prefixes (systemd.service(5), "Command
# lines"); none is part of the path.
EXEC_PREFIXES = "-@:+!"
EXEC_KEYS = ("ExecStartPre", "ExecStart", "ExecStartPost", "ExecReload",
    "ExecStop", "ExecStopPost")
PACKAGE_OF = {"systemd-analyze": "systemd", "/bin/kill": "procps"}


class Tap:
    """Numbers results, keeps the plan honest and decides the exit status."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def plan(self, count):
        print(f"1..{count}", flush=True)

    def result(self, ok, name, diag=()):
        self.n += 1
        if not ok:
            self.failed += 1
        print(f"{'ok' if ok else 'not ok'} {self.n} - {name}")
        for line in diag:
            for part in str(line).splitlines() or [""]:
                print(f"# {part}")
        sys.stdout.flush()

    def skip(self, name, why):
        self.n += 1
        print(f"ok {self.n} - {name} # SKIP {why}", flush=True)

    def done(self):
        return 1 if self.failed else 0


def need_tool(tap, name):
    """Returns the tool's path, or fails the whole run with its package."""
    path = shutil.which(name)
    if path is None:
        tap.plan(1)
        tap.result(False, f"{name} is available", [
            f"{name} is not on PATH; install the Debian package "
            f"'{PACKAGE_OF.get(name, name)}'"])
        sys.exit(1)
    return path


def staged(root, path):
    """PATH as it lands under the staging root ROOT."""
    return os.path.join(root, path.lstrip("/"))


def unit_lines(text):
    """(section, key, value) of each assignment; comments are left out."""
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if sep:
            yield section, key.strip(), value.strip()


def exec_commands(text):
    """(key, argv) of each Exec line, its prefixes removed."""
    for _, key, value in unit_lines(text):
        if key in EXEC_KEYS and value:
            argv = shlex.split(value)
            argv[0] = argv[0].lstrip(EXEC_PREFIXES)
            yield key, argv


def run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, **kw)


# ---- verify -----------------------------------------------------------------


def cmd_verify(opt, tap):
    analyze = need_tool(tap, "systemd-analyze")
    names = opt.names
    tap.plan(2 * len(names))
    hellod = os.path.join(opt.sbindir, "hellod")
    with tempfile.TemporaryDirectory(prefix="hellod-units-") as tmp:
        # verify insists that ExecStart's binary exists.  hellod need not be
        # installed here, so the units under test point at the built one; the
        # install test checks the paths they really name.
        sbin = os.path.join(tmp, "sbin")
        os.mkdir(sbin)
        os.symlink(os.path.abspath(opt.binary), os.path.join(sbin, "hellod"))
        unitdir = os.path.join(tmp, "units")
        os.mkdir(unitdir)
        rewritten = {}
        for name in names:
            with open(os.path.join(opt.units, name), encoding="utf-8") as f:
                text = f.read()
            rewritten[name] = text.count(hellod)
            with open(os.path.join(unitdir, name), "w", encoding="utf-8") as f:
                f.write(text.replace(hellod, os.path.join(sbin, "hellod")))

        for name in names:
            path = os.path.join(unitdir, name)
            # --man=no: the pages are installed by this build, not on the
            # machine running the suite; the install test covers them.
            argv = [analyze, "verify", "--man=no", path]
            r = run(argv, cwd=tmp, env=dict(os.environ, SYSTEMD_COLORS="0",
                SYSTEMD_PAGER="", SYSTEMD_LOG_COLOR="0"))
            # verify also loads the host's targets these units hang off; what
            # it says about those is the host's business, not a failure here.
            ours = [line for line in r.stdout.splitlines()
                if unitdir in line or any(n in line for n in names)]
            other = [line for line in r.stdout.splitlines()
                if line not in ours]
            diag = [f"$ {shlex.join(['systemd-analyze'] + argv[1:])}"]
            diag += ours + [f"(about other units) {line}" for line in other]
            if r.returncode != 0:
                diag.append(f"exit status {r.returncode}")
            if name.endswith(".service") and rewritten[name] == 0:
                diag.append(f"names no {hellod}")
            ok = r.returncode == 0 and not ours and (
                rewritten[name] > 0 or not name.endswith(".service"))
            tap.result(ok, f"systemd-analyze verify {name} is clean",
                [] if ok and not other else diag)

            # verify checks ExecStart only; ExecReload's kill matters as much.
            with open(path, encoding="utf-8") as f:
                commands = list(exec_commands(f.read()))
            bad = []
            for key, argv in commands:
                if not os.path.isabs(argv[0]):
                    bad.append(f"{key}: {argv[0]} is not an absolute path")
                elif not os.access(argv[0], os.X_OK):
                    pkg = PACKAGE_OF.get(argv[0])
                    bad.append(f"{key}: {argv[0]} is not executable here"
                        + (f" (Debian package '{pkg}')" if pkg else ""))
            tap.result(not bad,
                f"{name}: every Exec command exists ({len(commands)})", bad)
    return tap.done()


# ---- security ---------------------------------------------------------------

EXPOSURE_RE = re.compile(r"Overall exposure level for (\S+): (\d+\.\d)")


def cmd_security(opt, tap):
    analyze = need_tool(tap, "systemd-analyze")
    limits = []
    for spec in opt.max_exposure:
        name, _, tenths = spec.partition("=")
        limits.append((name, int(tenths)))
    tap.plan(len(limits))
    for name, tenths in limits:
        path = os.path.join(opt.units, name)
        # --threshold compares against the exposure in tenths: 11 lets 1.1
        # pass and fails 1.2.
        argv = [analyze, "security", "--offline=true",
            f"--threshold={tenths}", "--no-pager", path]
        r = run(argv, env=dict(os.environ, SYSTEMD_COLORS="0",
            SYSTEMD_PAGER=""))
        m = EXPOSURE_RE.search(r.stdout)
        limit = f"{tenths // 10}.{tenths % 10}"
        got = m.group(2) if m else "unknown"
        ok = r.returncode == 0 and m is not None and m.group(1) == name
        # The checks that still count against the unit, so a change of score
        # can be traced to a directive.
        diag = [line for line in r.stdout.splitlines()
            if line.startswith("✗")]
        if not ok:
            diag = [f"$ {shlex.join(['systemd-analyze'] + argv[1:])}"] + [
                line for line in r.stdout.splitlines()
                if line.strip() and not line.startswith("✓")] + [
                f"exit status {r.returncode}"]
        tap.result(ok, f"{name} exposure {got} (at most {limit})", diag)
    return tap.done()


# ---- install ----------------------------------------------------------------


def meson_install(opt, destdir):
    """Runs meson install into DESTDIR, leaving the build's install log as it
    was: `ninja uninstall` reads that log to undo a real install."""
    log = os.path.join(opt.build_root, "meson-logs", "install-log.txt")
    try:
        with open(log, "rb") as f:
            saved = f.read()
    except FileNotFoundError:
        saved = None
    # --no-rebuild: meson test has built everything already, and a ninja run
    # here would race the other tests for the build directory.
    argv = [opt.meson, "install", "-C", opt.build_root, "--destdir", destdir,
        "--no-rebuild", "--quiet"]
    try:
        r = run(argv)
    finally:
        if saved is None:
            try:
                os.unlink(log)
            except FileNotFoundError:
                pass
        else:
            with open(log, "wb") as f:
                f.write(saved)
    return argv, r


def man_sources(opt):
    """The pages the source tree has, as (page, section)."""
    pages = []
    for page in ("hellod.8", "hellod.conf.5"):
        base = os.path.join(opt.source_root, "man", page)
        if os.path.exists(base) or os.path.exists(base + ".in"):
            pages.append((page, page.rsplit(".", 1)[1]))
    return pages


def cmd_install(opt, tap):
    names = opt.names
    pages = man_sources(opt)
    # install, binary, config, per unit (installed, paths), man pages, docs
    tap.plan(3 + 2 * len(names) + 2)
    hellod = os.path.join(opt.sbindir, "hellod")
    conf = os.path.join(opt.sysconfdir, "hellod", "hellod.conf")

    with tempfile.TemporaryDirectory(prefix="hellod-install-") as dest:
        argv, r = meson_install(opt, dest)
        tap.result(r.returncode == 0,
            "meson install --destdir succeeds",
            [] if r.returncode == 0 else [shlex.join(argv), r.stdout.strip(),
                f"exit status {r.returncode}"])

        path = staged(dest, hellod)
        ok = os.path.isfile(path) and os.access(path, os.X_OK)
        tap.result(ok, f"binary installed as {hellod}",
            [] if ok else [f"{path} is missing or not executable"])

        path = staged(dest, conf)
        shipped = os.path.join(opt.source_root, "conf", "hellod.conf")
        ok = os.path.isfile(path) and filecmp.cmp(path, shipped, shallow=False)
        tap.result(ok, f"configuration installed as {conf}",
            [] if ok else [f"{path} is missing or differs from {shipped}"])

        docs = set()
        for name in names:
            path = staged(dest, os.path.join(opt.unitdir, name))
            built = os.path.join(opt.units, name)
            ok = os.path.isfile(path) and filecmp.cmp(path, built,
                shallow=False)
            tap.result(ok, f"{name} installed in {opt.unitdir}",
                [] if ok else [f"{path} is missing or differs from {built}"])
            if not os.path.isfile(path):
                tap.result(False, f"{name} names the installed paths",
                    ["not installed"])
                continue

            with open(path, encoding="utf-8") as f:
                text = f.read()
            bad = []
            for left in sorted(set(re.findall(r"@\w+@", text))):
                bad.append(f"{left} is left unsubstituted")
            hellod_runs = 0
            for key, argv in exec_commands(text):
                if os.path.basename(argv[0]) != "hellod":
                    continue
                hellod_runs += 1
                if argv[0] != hellod:
                    bad.append(f"{key} runs {argv[0]}, not {hellod}")
                if "-c" not in argv[:-1]:
                    bad.append(f"{key} names no configuration (-c)")
                elif argv[argv.index("-c") + 1] != conf:
                    bad.append(f"{key} reads {argv[argv.index('-c') + 1]}, "
                        f"not {conf}")
            if name.endswith(".service") and hellod_runs == 0:
                bad.append("runs no hellod")
            for _, key, value in unit_lines(text):
                if key == "Documentation":
                    docs.update((name, d) for d in value.split())
            tap.result(not bad, f"{name} names the installed paths"
                + (f" ({hellod_runs} commands)" if hellod_runs else ""), bad)

        if not pages:
            tap.skip("man pages installed", "no man/ pages in the source tree")
            tap.skip("units' Documentation= pages installed",
                "no man/ pages in the source tree")
            return tap.done()

        missing = []
        for page, section in pages:
            path = staged(dest, os.path.join(opt.mandir, f"man{section}",
                page))
            if not os.path.isfile(path):
                missing.append(f"{path} is missing")
        tap.result(not missing, "man pages installed: "
            + ", ".join(p for p, _ in pages), missing)

        missing = []
        for unit, doc in sorted(docs):
            m = re.fullmatch(r"man:([^()]+)\((\w+)\)", doc)
            if not m:
                continue
            page = f"{m.group(1)}.{m.group(2)}"
            path = staged(dest, os.path.join(opt.mandir,
                f"man{m.group(2)[0]}", page))
            if not os.path.isfile(path):
                missing.append(f"{unit}: {doc}: {path} is missing")
        tap.result(not missing, "units' Documentation= pages installed",
            missing)
    return tap.done()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=("verify", "security", "install"))
    p.add_argument("--units", required=True,
        help="directory of the generated units")
    p.add_argument("--names", required=True, type=lambda s: s.split(","),
        help="the unit file names, comma-separated")
    p.add_argument("--binary", required=True, help="the built hellod")
    p.add_argument("--sbindir", required=True)
    p.add_argument("--sysconfdir", required=True)
    p.add_argument("--unitdir", required=True)
    p.add_argument("--mandir", required=True)
    p.add_argument("--source-root", required=True)
    p.add_argument("--build-root", required=True)
    p.add_argument("--meson", default="meson")
    p.add_argument("--max-exposure", action="append", default=[],
        metavar="UNIT=TENTHS")
    opt = p.parse_args()
    tap = Tap()
    return {"verify": cmd_verify, "security": cmd_security,
        "install": cmd_install}[opt.mode](opt, tap)


if __name__ == "__main__":
    sys.exit(main())
