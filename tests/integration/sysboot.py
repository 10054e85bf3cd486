"""A real systemd as PID 1 for the tests, booted where it can do no harm.

systemd runs as PID 1 of new PID, mount, network, cgroup, UTS and IPC
namespaces, in a throwaway root: an overlay of the machine's own / whose
upper layer is a tmpfs, so nothing the boot, a unit or a package install
writes reaches the host.  The root is entered with pivot_root; a chroot would
make the kernel refuse the user namespaces that PrivateUsers= units need.
/tmp and /run are fresh tmpfs mounts, /proc/sys and /sys are read-only (as in
any container), and the units that set kernel-wide state are masked, so
booting cannot empty the host's /tmp or retune its kernel.  systemd boots a
target of its own that pulls in journald and D-Bus only: the machine's other
services never start.  It ignores SIGTERM; it is ended with SIGKILL by its
PID, which ends every process of its PID namespace.

Every wait is bounded.  Where the kernel refuses the namespaces, the tests
are skipped with the reason; anywhere else a failure to boot is a failure.
"""

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time

from hellodtest import Client, Skip, TIMEOUT

TARGET = "hellod-test.target"
BOOT_TIMEOUT = 60.0
CLONE_NEWNET = 0x40000000
# A file the boot must leave alone: the proof that the host's /tmp survived.
HOST_MARKER_PREFIX = "hellod-boot-marker-"

# Units that act on the kernel as a whole, or on hardware, rather than on
# the namespaces and the throwaway root: masked in the root.
MASKED = (
    "systemd-sysctl.service", "systemd-modules-load.service",
    "systemd-binfmt.service", "proc-sys-fs-binfmt_misc.automount",
    "systemd-udevd.service", "systemd-udev-trigger.service",
    "systemd-udev-settle.service", "systemd-timesyncd.service",
    "systemd-journald-audit.socket", "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount", "sys-kernel-config.mount",
    "sys-fs-fuse-connections.mount", "dev-hugepages.mount",
    "getty.target", "console-getty.service", "systemd-logind.service",
)

TARGET_UNIT = """\
[Unit]
Description=hellod test boot: journald and D-Bus, then what the test starts
Requires=systemd-journald.service dbus.socket
After=systemd-journald.service dbus.socket
AllowIsolate=yes
"""

# Runs as PID 1 of the new namespaces, before systemd replaces it.
# $1 is a tmpfs mount point; $2... are trees to lay over the root.
STAGE = r"""
set -eu
mount --make-rprivate /
top=$1
shift
mount -t tmpfs -o mode=0755 hellod-boot "$top"
mkdir "$top/upper" "$top/work" "$top/root"
r=$top/root
mount -t overlay overlay \
	-o "lowerdir=/,upperdir=$top/upper,workdir=$top/work" "$r"
mount -t proc proc "$r/proc"
mount --bind "$r/proc/sys" "$r/proc/sys"
mount -o remount,bind,ro "$r/proc/sys"
mount -t sysfs -o ro sysfs "$r/sys"
mount -t cgroup2 cgroup2 "$r/sys/fs/cgroup"
mount -t tmpfs -o mode=0755 hellod-dev "$r/dev"
for n in null zero full random urandom tty; do
	touch "$r/dev/$n"
	mount --bind "/dev/$n" "$r/dev/$n"
done
mkdir "$r/dev/pts" "$r/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts"
ln -s pts/ptmx "$r/dev/ptmx"
mount -t tmpfs -o mode=1777 hellod-shm "$r/dev/shm"
mount -t tmpfs -o mode=1777 hellod-tmp "$r/tmp"
mount -t tmpfs -o mode=0755 hellod-run "$r/run"
# A Debian system as installed, where maintainer scripts start services:
# the machine's image forbids that with policy-rc.d.
rm -f "$r/usr/sbin/policy-rc.d"
for tree in "$@"; do
	tar -C "$tree" -cf - . |
		tar -C "$r" --keep-directory-symlink --no-overwrite-dir -xf -
done
mkdir "$r/.oldroot"
cd "$r"
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot
export container=hellod-test
exec /lib/systemd/systemd --system --unit=%s </dev/null
""" % TARGET

_libc = ctypes.CDLL(None, use_errno=True)


class Systemd:
    """One booted systemd and its namespaces; the test talks to it with the
    real systemctl and journalctl, entered with nsenter."""

    def __init__(self, trees=()):
        self.trees = list(trees)
        self.dir = tempfile.mkdtemp(prefix="hellod-boot-")
        self.proc = None
        self.pid1 = None  # systemd's PID in the host's PID namespace
        self.cgroup = None
        self.marker = None

    # ---- boot and teardown ---------------------------------------------------

    def boot(self):
        self._leave_marker()
        base = os.path.join(self.dir, "base")
        units = os.path.join(base, "etc", "systemd", "system")
        os.makedirs(units)
        with open(os.path.join(units, TARGET), "w") as f:
            f.write(TARGET_UNIT)
        for unit in MASKED:
            os.symlink("/dev/null", os.path.join(units, unit))
        mnt = os.path.join(self.dir, "mnt")
        os.mkdir(mnt)
        self.cgroup = _new_cgroup()
        log = open(os.path.join(self.dir, "boot.log"), "wb")
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--kill-child", "--mount", "--net",
             "--cgroup", "--uts", "--ipc", "sh", "-c", STAGE, "stage", mnt,
             base] + self.trees,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=self._preexec)
        log.close()
        self.pid1 = self._wait_child()
        self._wait_running()
        return self

    def _preexec(self):
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if self.cgroup:
            with open(os.path.join(self.cgroup, "cgroup.procs"), "w") as f:
                f.write("0")

    def _wait_child(self):
        """The PID of unshare's child, which becomes systemd."""
        path = "/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._boot_failed("unshare exited with status %d"
                                  % self.proc.returncode)
            try:
                with open(path) as f:
                    kids = f.read().split()
            except OSError:
                kids = []
            if kids:
                return int(kids[0])
            time.sleep(0.01)
        self._boot_failed("unshare started no child")

    def _wait_running(self):
        deadline = time.monotonic() + BOOT_TIMEOUT
        state = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._boot_failed("systemd exited with status %d"
                                  % self.proc.returncode)
            r = self.run("systemctl", "is-system-running", check=False)
            state = r.stdout.strip()
            if state in ("running", "degraded"):
                return
            time.sleep(0.1)
        self._boot_failed("system state %r after %.0f s"
                          % (state, BOOT_TIMEOUT))

    def _boot_failed(self, why):
        text = self.boot_log()
        self.shutdown()
        if "unshare failed" in text:
            raise Skip("namespaces refused here: %s"
                       % text.strip().splitlines()[-1])
        raise AssertionError("systemd did not boot: %s; its output:\n%s"
                             % (why, text))

    def boot_log(self):
        try:
            with open(os.path.join(self.dir, "boot.log"), errors="replace") \
                    as f:
                return f.read()
        except OSError:
            return ""

    def shutdown(self):
        """Kills systemd and with it its PID namespace, by PID; then checks
        the host kept its /tmp."""
        if self.proc and self.proc.poll() is None:
            pid = self.pid1
            if isinstance(pid, int) and pid > 1 and self._is_ours(pid):
                os.kill(pid, signal.SIGKILL)
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(TIMEOUT)
        self.proc = None
        if self.cgroup:
            _remove_cgroup(self.cgroup)
            self.cgroup = None
        shutil.rmtree(self.dir, ignore_errors=True)
        self._check_marker()

    def _is_ours(self, pid):
        """True while pid is still the child of the unshare we started."""
        try:
            with open("/proc/%d/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        return ppid == self.proc.pid

    def _leave_marker(self):
        fd, self.marker = tempfile.mkstemp(prefix=HOST_MARKER_PREFIX)
        os.write(fd, b"the host's /tmp\n")
        os.close(fd)

    def _check_marker(self):
        marker, self.marker = self.marker, None
        if marker is None:
            return
        if not os.path.exists(marker):
            raise AssertionError("the host's /tmp lost %s while systemd was "
                                 "booted" % marker)
        os.unlink(marker)

    # ---- inside the namespaces ---------------------------------------------

    def run(self, *argv, input=None, check=True, timeout=30):
        """Runs a command inside the booted system (its root, PIDs and
        network), as root."""
        r = subprocess.run(
            ["nsenter", "-t", str(self.pid1), "-m", "-p", "-n", "-u", "-i",
             "--"] + list(argv),
            input=input, capture_output=True, text=True, timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError("%s exited with status %d:\n%s%s"
                                 % (" ".join(argv), r.returncode, r.stdout,
                                    r.stderr))
        return r

    def systemctl(self, *args, check=True, timeout=30):
        return self.run("systemctl", "--no-pager", *args, check=check,
                        timeout=timeout)

    def show(self, unit, *props):
        out = self.systemctl("show", unit, *("-p" + p for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if line)

    def main_pid(self, unit):
        return int(self.show(unit, "MainPID")["MainPID"])

    def journal(self, *args):
        return self.run("journalctl", "--no-pager", "-q", *args).stdout

    def write(self, path, text):
        """Writes a file inside the booted root."""
        self.run("sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"',
                 "write", path, input=text)

    def drop_in(self, unit, name, text):
        """A drop-in for unit, then daemon-reload."""
        self.write("/etc/systemd/system/%s.d/%s.conf" % (unit, name), text)
        self.systemctl("daemon-reload")

    def wait_for(self, what, check, timeout=TIMEOUT):
        """Polls check() until it returns something true; returns that."""
        deadline = time.monotonic() + timeout
        while True:
            got = check()
            if got:
                return got
            if time.monotonic() >= deadline:
                raise AssertionError("timed out after %.1f s waiting for %s"
                                     % (timeout, what))
            time.sleep(0.05)

    @contextlib.contextmanager
    def netns(self):
        """Sockets made inside this block belong to the booted system's
        network namespace, and keep it after."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        theirs = os.open("/proc/%d/ns/net" % self.pid1, os.O_RDONLY)
        try:
            _setns(theirs)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(own)
            os.close(theirs)

    def connect(self, port, host="127.0.0.1", welcome=b"Welcome!\r\n",
                timeout=TIMEOUT):
        with self.netns():
            c = Client(host, port, timeout)
        if welcome:
            c.expect(welcome)
        return c


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: " + os.strerror(err))


def _cgroup2_root():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup2":
                return fields[4]
    return None


def _new_cgroup():
    """A cgroup of its own for the boot, so systemd's tree stays below it
    and goes with it; None where there is no writable cgroup2."""
    root = _cgroup2_root()
    if root is None:
        return None
    with open("/proc/self/cgroup") as f:
        own = next((l.split(":", 2)[2].strip() for l in f
                    if l.startswith("0::")), "/")
    path = os.path.join(root, own.lstrip("/"),
                        "hellod-boot-%d-%d" % (os.getpid(), time.monotonic_ns()))
    try:
        os.mkdir(path)
    except OSError:
        return None
    return path


def _remove_cgroup(path):
    """Removes the boot's cgroup tree, deepest first, once its processes
    are gone."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            for top, dirs, _ in os.walk(path, topdown=False):
                for d in dirs:
                    os.rmdir(os.path.join(top, d))
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def host_units():
    """hellod's units where the host's systemd would find them: none may
    appear there from a test."""
    found = []
    for d in ("/etc/systemd/system", "/run/systemd/system",
              "/lib/systemd/system", "/usr/local/lib/systemd/system"):
        if os.path.isdir(d):
            found += [os.path.join(d, n) for n in os.listdir(d)
                      if n.startswith("hellod")]
    return found


_shared = None
_shared_error = None


def shared(make_trees):
    """The one booted systemd that a test module's tests share, in order:
    booted by the first test that asks, with the trees make_trees()
    returns, and shut down at exit if no test did it before.  A boot that
    failed fails (or skips) every test that asks again."""
    global _shared, _shared_error
    if _shared_error:
        raise _shared_error
    if _shared is None:
        try:
            _shared = Systemd(make_trees())
            atexit.register(_shared.shutdown)
            _shared.boot()
        except Exception as e:
            _shared_error = e
            raise
    return _shared
