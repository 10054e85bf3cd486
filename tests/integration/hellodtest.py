"""Integration-test harness: runs the real hellod binary on an ephemeral
loopback port, talks to it over TCP and reports each test as a TAP line.

The binary comes from $HELLOD_BIN (set by meson).  Every daemon a test
starts is stopped when the test ends, and dies with the test runner if the
runner itself dies (PR_SET_PDEATHSIG).
"""

import atexit
import ctypes
import fcntl
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import struct
import sys
import tempfile
import termios
import threading
import time
import traceback

HELLOD = os.path.abspath(os.environ.get("HELLOD_BIN", "build/daemon/hellod"))
# Under sanitizers or valgrind, memory figures are theirs, not hellod's.
SANITIZED = bool(os.environ.get("HELLOD_SANITIZED"))
# A command to run hellod under, such as valgrind.
WRAPPER = os.environ.get("HELLOD_WRAPPER", "").split()
SLOWDOWN = 10 if WRAPPER else 1
# Run every daemon the tests start with this many worker loops.
WORKERS = os.environ.get("HELLOD_TEST_WORKERS")
TIMEOUT = 5.0

_libc = ctypes.CDLL(None, use_errno=True)
_running = []


class Skip(Exception):
    """Raised by a test that cannot run here; the reason is reported."""


def _die_with_parent():
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Hellod:
    """One hellod process with its own config file in a temporary folder."""

    def __init__(self, conf="", bind=("127.0.0.1",), port=0, args=(),
                 env=None, start=True, nofile=None):
        self.dir = tempfile.mkdtemp(prefix="hellod-test-")
        self.conf_path = os.path.join(self.dir, "hellod.conf")
        self.write_config(conf, bind=bind, port=port)
        self.args = list(args)
        self.env = env
        self.nofile = nofile  # RLIMIT_NOFILE, soft and hard, to start with
        self.proc = None
        self.lines = []
        self.ports = {}
        self.tls_ports = {}
        self._cond = threading.Condition()
        _running.append(self)  # its folder goes at the end, started or not
        if start:
            self.start()

    def write_config(self, conf="", bind=("127.0.0.1",), port=0):
        text = ""
        if port is not None:
            text += "port = %d;\n" % port
        if bind is not None:
            text += "bind = [%s];\n" % ", ".join('"%s"' % b for b in bind)
        text += conf
        if WORKERS and "workers" not in conf:
            text += "\nworkers = %d;\n" % int(WORKERS)
        with open(self.conf_path, "w") as f:
            f.write(text)

    def start(self, ready=True):
        env = dict(os.environ)
        env.update(self.env or {})
        self.proc = subprocess.Popen(
            WRAPPER + [HELLOD, "-c", self.conf_path] + self.args,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=env, preexec_fn=self._preexec)
        threading.Thread(target=self._read_log, daemon=True).start()
        if ready:
            self.wait_log(r"info: hellod \S+ ready", timeout=TIMEOUT * SLOWDOWN)
            for kind, ports in (("", self.ports), ("for TLS ", self.tls_ports)):
                for line in self.log_lines(r"listening %son " % kind):
                    m = re.search(r"listening %son \[?([^\]]*?)\]?:(\d+)$"
                                  % kind, line)
                    if m:  # a UNIX socket has no port
                        ports[m.group(1)] = int(m.group(2))
        return self

    def _preexec(self):
        _die_with_parent()
        if self.nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE,
                               (self.nofile, self.nofile))

    def _read_log(self):
        for raw in self.proc.stderr:
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.lines.append(None)  # end of log
            self._cond.notify_all()

    @property
    def port(self):
        return next(iter(self.ports.values()))

    def log_lines(self, pattern):
        with self._cond:
            return [l for l in self.lines if l and re.search(pattern, l)]

    def wait_log(self, pattern, count=1, timeout=TIMEOUT):
        """Waits until `count` log lines match; returns the last of them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [l for l in self.lines if l and re.search(pattern, l)]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if None in self.lines or left <= 0:
                    raise AssertionError("no log line /%s/ (%d wanted); "
                                         "log:\n%s" % (pattern, count,
                                                       self.log_text()))
                self._cond.wait(left)

    def log_text(self):
        with self._cond:
            return "\n".join(l for l in self.lines if l is not None)

    def connect(self, host="127.0.0.1", port=None, welcome=b"Welcome!\r\n",
                timeout=TIMEOUT, tls=None, **kw):
        """A client that has read the welcome; with tls (an SSLContext),
        to the TLS listener of that host."""
        ports = self.tls_ports if tls else self.ports
        c = Client(host, port or ports.get(host) or next(iter(ports.values())),
                   timeout, tls=tls, **kw)
        if welcome:
            c.expect(welcome)
        return c

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def settled_fd_count(self, want, timeout=TIMEOUT):
        """The descriptor count once it has stayed put for 0.3 s (or at
        the timeout): connections still queued for accept come and go."""
        deadline = time.monotonic() + timeout
        seen, since = self.fd_count(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.fd_count()
            if now != seen:
                seen, since = now, time.monotonic()
            elif now == want and time.monotonic() - since >= 0.3:
                break
        return seen

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self):
        """SIGHUP, then wait for the outcome to be logged."""
        before = len(self.log_lines(r"configuration reloaded|reload failed"))
        self.signal(signal.SIGHUP)
        return self.wait_log(r"configuration reloaded|reload failed",
                             count=before + 1)

    def wait(self, timeout=TIMEOUT):
        """Waits for hellod to exit and for its whole log to be read."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("hellod did not exit within %.1fs" % timeout)
        with self._cond:
            self._cond.wait_for(lambda: None in self.lines, timeout)
        return code

    def stop(self):
        """SIGTERM if still running; returns the exit status, or None when
        the test already collected it."""
        code = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(TIMEOUT * SLOWDOWN)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                code = -signal.SIGKILL
        shutil.rmtree(self.dir, ignore_errors=True)
        return code


def scratch_dir(prefix="hellod-test-"):
    """A temporary folder of the test's own, removed when the run ends."""
    folder = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, folder, True)
    return folder


def run_hellod(*args, timeout=TIMEOUT, cwd=None):
    """Runs hellod to completion (for -t, -V, -d, bad options)."""
    return subprocess.run([HELLOD] + list(args), capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, cwd=cwd)


def free_port():
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """A client over TCP, or over a UNIX socket when host is "unix:PATH"
    ("unix:@NAME" for the abstract namespace; port unused).  With tls (an
    ssl.SSLContext) it speaks TLS, after sending `before` in the clear (a
    PROXY header)."""

    def __init__(self, host, port=None, timeout=TIMEOUT, tls=None,
                 server_hostname="localhost", before=b""):
        if host.startswith("unix:"):
            family, where = socket.AF_UNIX, host[5:].replace("@", "\0", 1)
        else:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            where = (host, port)
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(where)
        if before:
            self.sock.sendall(before)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock,
                                        server_hostname=server_hostname)
        self.timeout = timeout

    def send(self, data):
        self.sock.sendall(data)

    def wait_delivered(self, timeout=None):
        """Waits until the server's kernel has acknowledged every byte sent,
        so they are in its receive buffer whatever hellod does next."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            queued = fcntl.ioctl(self.sock, termios.TIOCOUTQ, b"\0" * 4)
            if struct.unpack("i", queued)[0] == 0:
                return
            time.sleep(0.005)
        raise AssertionError("server did not take the bytes sent")

    def shut_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def recv_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        data = b""
        while len(data) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(n - len(data))
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
        return data

    def expect(self, want, timeout=None):
        got = self.recv_exact(len(want), timeout)
        if got != want:
            at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                      min(len(got), len(want)))
            raise AssertionError("expected %r, got %r (%d of %d bytes, first "
                                 "difference at byte %d)"
                                 % (want[at:at + 60], got[at:at + 60],
                                    len(got), len(want), at))

    def expect_eof(self, timeout=None):
        self.sock.settimeout(timeout or self.timeout)
        try:
            rest = self.sock.recv(65536)
        except ConnectionResetError:
            raise AssertionError("connection reset instead of closed")
        assert rest == b"", "expected end of stream, got %r" % rest

    def expect_silence(self, seconds):
        r, _, _ = select.select([self.sock], [], [], seconds)
        if r:
            data = self.sock.recv(65536)
            raise AssertionError("expected nothing, got %r" % data)

    def close(self):
        self.sock.close()


def converse(d, c, steps):
    """Plays the client's side of a conversation with daemon d over c, one
    step at a time: ("send", bytes), ("expect", bytes), ("silence", s),
    ("pause", s), ("shut",) for our end of the stream, ("eof",) for the
    server's, ("log", regex) for a line hellod must write."""
    for step in steps:
        verb, arg = step[0], step[1:]
        if verb == "send":
            c.send(*arg)
        elif verb == "expect":
            c.expect(*arg)
        elif verb == "silence":
            c.expect_silence(*arg)
        elif verb == "pause":
            time.sleep(*arg)
        elif verb == "shut":
            c.shut_write()
        elif verb == "eof":
            c.expect_eof()
        elif verb == "log":
            d.wait_log(*arg)
        else:
            raise ValueError("no such step: %r" % (step,))


def add_conversations(module_globals, rows):
    """One test per row (name, conf, steps[, welcome]): a fresh daemon with
    that config, one client that reads the welcome and then plays the
    steps.  A new case is a new row."""
    def make(conf, steps, welcome):
        def test():
            d = Hellod(conf)
            converse(d, d.connect(welcome=welcome), steps)
        return test
    for name, conf, steps, *welcome in rows:
        key = "test_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        assert key not in module_globals, "two rows named " + key
        module_globals[key] = make(conf, steps,
                                   welcome[0] if welcome else b"Welcome!\r\n")


def _stop_all():
    """Stops every daemon the test started; returns the problems seen."""
    problems = []
    for d in _running:
        code = d.stop()
        if code not in (0, None):
            problems.append("hellod exited with status %d" % code)
    return problems


def run(module_globals):
    """Runs every test_* function of the calling module, printing TAP.
    A daemon that does not exit 0 when stopped (a leak or memory error
    found by a sanitizer or valgrind) fails the test that started it."""
    tests = [(n, f) for n, f in module_globals.items()
             if n.startswith("test_") and callable(f)]
    print("1..%d" % len(tests), flush=True)
    failed = 0
    for i, (name, fn) in enumerate(tests, 1):
        started = time.monotonic()
        problems = []
        skipped = None
        try:
            fn()
        except Skip as e:
            skipped = str(e)
        except Exception:
            problems = traceback.format_exc().splitlines()
        problems += _stop_all()
        if problems:
            failed += 1
            for line in problems:
                print("# " + line)
            for d in _running:
                for line in d.log_text().splitlines():
                    print("# hellod: " + line)
        _running.clear()
        print("%s %d - %s (%.2fs)%s"
              % ("not ok" if problems else "ok", i, name,
                 time.monotonic() - started,
                 " # SKIP " + skipped if skipped and not problems else ""),
              flush=True)
    sys.exit(1 if failed else 0)
