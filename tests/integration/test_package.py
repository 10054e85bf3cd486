"""hellod as a Debian package: built by scripts/package, checked by
lintian, then installed, reinstalled and purged with apt-get inside a real
systemd booted as PID 1 (see sysboot.py)."""

import os
import re
import subprocess

import sysboot
from hellodtest import run

SOURCE_ROOT = os.environ["HELLOD_SOURCE_ROOT"]
OUT = os.path.join(os.environ["HELLOD_BUILD_ROOT"], "deb")
PORT = 9999
CONF = "/etc/hellod/hellod.conf"
# Where the package lands inside the booted root.
DEB_DIR = "/srv/hellod-test"
INSTALLED = ("/usr/sbin/hellod", CONF, "/lib/systemd/system/hellod.service",
             "/lib/systemd/system/hellod.socket",
             "/lib/systemd/system/hellod-activated.service",
             "/usr/share/man/man8/hellod.8.gz",
             "/usr/share/man/man5/hellod.conf.5.gz",
             "/usr/share/doc/hellod/copyright")

_deb = None


def package():
    """Builds the package once; returns the .deb's path."""
    global _deb
    if _deb is None:
        r = subprocess.run([os.path.join(SOURCE_ROOT, "scripts", "package"),
                            OUT], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        _deb = r.stdout.strip().splitlines()[-1]
    return _deb


def _package_tree():
    """The .deb, to go into the booted root, not installed yet."""
    deb = package()
    tree = os.path.join(OUT, "tree")
    subprocess.run(["rm", "-rf", tree], check=True)
    os.makedirs(tree + DEB_DIR)
    os.link(deb, tree + DEB_DIR + "/" + os.path.basename(deb))
    return [tree]


def system():
    return sysboot.shared(_package_tree)


def apt_get(s, *args):
    return s.run("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-y",
                 "-q", *args, timeout=120)


def install(s, *extra):
    apt_get(s, "install", *extra,
            DEB_DIR + "/" + os.path.basename(package()))


def exists(s, path):
    return s.run("test", "-e", path, check=False).returncode == 0


def test_package_holds_the_daemon_units_config_and_manuals():
    deb = package()
    assert re.fullmatch(r"hellod_[0-9][^_]*_[a-z0-9]+\.deb",
                        os.path.basename(deb)), deb
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True,
                             text=True, check=True).stdout
    paths = {l.split()[-1].lstrip(".") for l in listing.splitlines()}
    missing = [p for p in INSTALLED if p not in paths]
    assert not missing, (missing, sorted(paths))
    conffiles = subprocess.run(["dpkg-deb", "-I", deb, "conffiles"],
                               capture_output=True, text=True,
                               check=True).stdout
    assert conffiles.split() == [CONF], conffiles


def test_lintian_finds_no_error():
    deb = package()
    # lintian leaves files in $TMPDIR: a folder of the test's own.
    tmp = os.path.join(OUT, "lintian-tmp")
    os.makedirs(tmp, exist_ok=True)
    env = dict(os.environ, TMPDIR=tmp)
    try:
        r = subprocess.run(["lintian", "--display-info", deb], env=env,
                           capture_output=True, text=True, timeout=300)
    finally:
        subprocess.run(["rm", "-rf", tmp])
    for line in r.stdout.splitlines():
        print("# lintian: " + line)
    errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
    assert r.returncode == 0 and not errors, r.stdout + r.stderr


def test_install_enables_and_starts_the_service():
    s = system()
    install(s)
    assert s.systemctl("is-enabled", "hellod").stdout.strip() == "enabled"
    assert s.systemctl("is-active", "hellod").stdout.strip() == "active"
    # The socket binds the same port, so it ships disabled.
    r = s.systemctl("is-enabled", "hellod.socket", check=False)
    assert r.stdout.strip() == "disabled", r.stdout
    c = s.connect(PORT)
    c.send(b"Michael\n")
    c.expect(b"Hello, Michael!\n")
    c.close()
    r = s.run("hellod", "-t")
    assert "configuration is valid" in r.stdout + r.stderr, r
    assert s.run("man", "-w", "hellod").stdout.strip() == \
        "/usr/share/man/man8/hellod.8.gz"


def test_an_edited_config_survives_a_reinstall():
    s = system()
    shipped = s.run("cat", CONF).stdout
    edited = shipped.replace('welcome = "Welcome!";', 'welcome = "Howdy!";')
    assert edited != shipped
    s.write(CONF, edited)
    install(s, "--reinstall")
    assert s.run("cat", CONF).stdout == edited
    # The reinstall restarted hellod, which now reads the edited file.
    s.connect(PORT, welcome=b"Howdy!\r\n").close()


def test_purge_stops_the_service_and_removes_its_files():
    s = system()
    pid = s.main_pid("hellod")
    assert pid > 0
    apt_get(s, "purge", "hellod")
    _gone(s)


def test_purge_stops_the_socket_activated_setup_too():
    s = system()
    install(s)
    s.systemctl("start", "hellod.socket")  # stops hellod.service: Conflicts=
    s.connect(PORT).close()
    assert s.systemctl("is-active", "hellod-activated").stdout.strip() == \
        "active"
    apt_get(s, "purge", "hellod")
    _gone(s)


def _gone(s):
    for unit in ("hellod", "hellod.socket", "hellod-activated"):
        r = s.systemctl("is-active", unit, check=False)
        assert r.stdout.strip() == "inactive", (unit, r.stdout)
    left = [p for p in INSTALLED + ("/etc/hellod",) if exists(s, p)]
    assert not left, left
    r = s.run("pgrep", "-x", "hellod", check=False)
    assert r.returncode == 1, r.stdout
    try:
        s.connect(PORT, welcome=None, timeout=1).close()
    except ConnectionRefusedError:
        pass
    else:
        raise AssertionError("port %d still takes connections" % PORT)


def test_the_host_keeps_its_tmp_and_has_no_hellod_package():
    s = system()
    s.shutdown()  # fails if the marker it left in the host's /tmp is gone
    r = subprocess.run(["dpkg-query", "-W", "hellod"], capture_output=True)
    assert r.returncode != 0, r.stdout
    assert not sysboot.host_units(), sysboot.host_units()


if __name__ == "__main__":
    run(globals())
