"""-d: a classic daemon that detaches, and whose starting command returns
only once it listens, or fails with the daemon's own error."""

import os
import signal
import socket
import tempfile
import time

from hellodtest import (Client, TIMEOUT, free_port, run_hellod, run,
                        scratch_dir)


def _daemon_pid(conf_path):
    """The detached hellod running with this (test-unique) config file."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"-d" in argv and os.path.basename(conf_path).encode() in argv:
            return int(pid)
    return None


def _stop(pid):
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + TIMEOUT
    while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not os.path.exists("/proc/%d" % pid), "daemon did not stop"


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def test_d_detaches_serves_and_reloads():
    folder = scratch_dir("hellod-test-")
    name = "daemon-%d.conf" % os.getpid()
    port = free_port()
    _write(os.path.join(folder, name),
           'port = %d;\nbind = ["127.0.0.1"];\n' % port)
    # A relative path: the daemon runs in / and must still find it on SIGHUP.
    r = run_hellod("-d", "-c", name, cwd=folder)
    assert r.returncode == 0 and r.stdout == b"" and r.stderr == b"", r
    pid = _daemon_pid(name)
    assert pid is not None
    try:
        # Listening already: the command returned only once it was.
        c = Client("127.0.0.1", port)
        c.expect(b"Welcome!\r\n")
        c.send(b"daemon\n")
        c.expect(b"Hello, daemon!\n")
        c.close()
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ppid, sid, tty = int(fields[1]), int(fields[3]), int(fields[4])
        assert ppid != os.getpid() and sid != os.getsid(0) and tty == 0
        assert sid != pid, "a session leader could reacquire a terminal"
        assert os.readlink("/proc/%d/cwd" % pid) == "/"
        for fd in (0, 1, 2):
            assert os.readlink("/proc/%d/fd/%d" % (pid, fd)) == "/dev/null"
        _write(os.path.join(folder, name),
               'port = %d;\nbind = ["127.0.0.1"];\nwelcome = "Reloaded";\n'
               % port)
        os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + TIMEOUT
        while True:
            c = Client("127.0.0.1", port)
            first = c.recv_exact(10)
            c.close()
            if first == b"Reloaded\r\n" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert first == b"Reloaded\r\n", first
    finally:
        _stop(pid)
        os.unlink(os.path.join(folder, name))
        os.rmdir(folder)


def test_d_returns_the_daemons_error():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    fd, path = tempfile.mkstemp(suffix=".conf")
    os.write(fd, b'port = %d;\nbind = ["127.0.0.1"];\n' % port)
    os.close(fd)
    r = run_hellod("-d", "-c", path)
    os.unlink(path)
    holder.close()
    assert r.returncode == 1, r
    assert r.stderr.startswith(b"hellod: cannot listen on 127.0.0.1:%d: "
                               b"Address already in use" % port), r.stderr
    assert r.stderr.count(b"\n") == 1, r.stderr
    assert _daemon_pid(path) is None


def test_d_bad_config_fails_before_detaching():
    fd, path = tempfile.mkstemp(suffix=".conf")
    os.write(fd, b"port = -5;\n")
    os.close(fd)
    r = run_hellod("-d", "-c", path)
    os.unlink(path)
    assert r.returncode == 1, r
    assert r.stderr == (b"hellod: %s:1: port: -5 is out of range "
                        b"(0 to 65535)\n" % path.encode()), r.stderr


if __name__ == "__main__":
    run(globals())
