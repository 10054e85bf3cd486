"""Life under a service manager, and without one: the notify protocol,
the watchdog, socket activation through the real systemd-socket-activate,
journal priorities, privilege dropping, and -d with a pidfile."""

import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

from hellodtest import (Client, HELLOD, Hellod, TIMEOUT, free_port,
                        run_hellod, run, scratch_dir)


class NotifySocket:
    """The service manager's end: a datagram socket hellod reports to."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "hellod-test-%d-%d" % (os.getpid(), time.monotonic_ns())
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            self.dir = scratch_dir("hellod-notify-")
            self.env = os.path.join(self.dir, "notify")
            self.sock.bind(self.env)

    def recv(self, timeout=TIMEOUT):
        self.sock.settimeout(timeout)
        return self.sock.recv(4096).decode()

    def recv_all(self, seconds):
        """Every message that arrives within seconds."""
        got, deadline = [], time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return got
            try:
                got.append(self.recv(left))
            except socket.timeout:
                return got


def _fields(msg):
    return dict(line.split("=", 1) for line in msg.split("\n") if line)


def test_notify_sequence():
    ns = NotifySocket()
    port = free_port()
    d = Hellod(env={"NOTIFY_SOCKET": ns.env}, port=port, start=False)
    d.start(ready=False)
    first = _fields(ns.recv())
    # READY=1 is the first word, and by then the port takes connections.
    assert first.get("READY") == "1", first
    assert re.match(r"0 clients, 0 messages served$", first["STATUS"]), first
    c = Client("127.0.0.1", port)
    c.expect(b"Welcome!\r\n")
    c.send(b"x\n")
    c.expect(b"Hello, x!\n")
    before = time.monotonic_ns() // 1000
    d.signal(signal.SIGHUP)
    reloading = _fields(ns.recv())
    assert reloading.get("RELOADING") == "1", reloading
    assert before <= int(reloading["MONOTONIC_USEC"]) <= \
        time.monotonic_ns() // 1000
    ready = ns.recv()
    while not ready.startswith("READY=1"):  # a STATUS= may come between
        assert ready.startswith("STATUS="), ready
        ready = ns.recv()
    # A bad config is rejected, and the manager hears the reload is over.
    with open(d.conf_path, "a") as f:
        f.write("bogus = 1;\n")
    d.signal(signal.SIGHUP)
    msgs = [ns.recv(), ns.recv()]
    msgs = [m for m in msgs if not m.startswith("STATUS=")] or msgs
    assert msgs[0].startswith("RELOADING=1"), msgs
    d.wait_log(r"reload failed")
    d.signal(signal.SIGTERM)
    rest = ns.recv_all(1.5)
    assert any(m == "STOPPING=1" for m in rest), rest
    assert d.wait() == 0


def test_status_at_most_once_a_second():
    ns = NotifySocket(abstract=True)
    d = Hellod(env={"NOTIFY_SOCKET": ns.env})
    assert ns.recv().startswith("READY=1")
    clients = []
    started = time.monotonic()
    statuses = []
    while time.monotonic() - started < 2.5:
        clients.append(d.connect())
        clients[-1].send(b"n\n")
        clients[-1].expect(b"Hello, n!\n")
        statuses += [m for m in ns.recv_all(0.05)]
    assert 2 <= len(statuses) <= 3, statuses
    assert all(m.startswith("STATUS=") for m in statuses), statuses
    assert re.match(r"STATUS=\d+ clients, \d+ messages served$",
                    statuses[-1]), statuses


def test_watchdog_pings_at_half_the_interval():
    ns = NotifySocket()
    d = Hellod(env={"NOTIFY_SOCKET": ns.env, "WATCHDOG_USEC": "200000"})
    msgs = ns.recv_all(1.0)
    pings = [m for m in msgs if m == "WATCHDOG=1"]
    assert 8 <= len(pings) <= 12, msgs
    d.wait_log(r"watchdog: pinging every 100 ms")


def test_watchdog_for_another_pid_is_not_ours():
    ns = NotifySocket()
    Hellod(env={"NOTIFY_SOCKET": ns.env, "WATCHDOG_USEC": "200000",
                "WATCHDOG_PID": "1"})
    msgs = ns.recv_all(0.6)
    assert "WATCHDOG=1" not in msgs, msgs


def _activate(ports, names, conf_port):
    """hellod under systemd-socket-activate, serving the given ports."""
    folder = scratch_dir("hellod-test-")
    conf = os.path.join(folder, "hellod.conf")
    with open(conf, "w") as f:
        f.write('port = %d;\nbind = ["127.0.0.1"];\n' % conf_port)
    cmd = ["systemd-socket-activate"]
    for p in ports:
        cmd += ["-l", "127.0.0.1:%d" % p]
    cmd += ["--fdname=" + ":".join(names), HELLOD, "-c", conf]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:  # until it listens
        try:
            socket.create_connection(("127.0.0.1", ports[0]), 0.2).close()
            break
        except OSError:
            time.sleep(0.02)
    return proc


def _finish(proc):
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=TIMEOUT)
    return err.decode()


def test_socket_activation_serves_the_passed_sockets_only():
    a, b, metrics, unused = free_port(), free_port(), free_port(), free_port()
    proc = _activate([a, b, metrics], ["hellod", "second", "metrics"], unused)
    try:
        for port in (a, b):
            c = Client("127.0.0.1", port)
            c.expect(b"Welcome!\r\n")
            c.send(b"act%d\n" % port)
            c.expect(b"Hello, act%d!\n" % port)
            c.close()
        # The config's own address was not bound.
        try:
            socket.create_connection(("127.0.0.1", unused), 0.5).close()
            assert False, "hellod bound the config's port as well"
        except ConnectionRefusedError:
            pass
        # The socket named "metrics" serves the metrics endpoint.
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % metrics,
                                    timeout=5) as r:
            assert r.status == 200 and r.read() == b"ok\n"
    finally:
        log = _finish(proc)
    assert "serving passed socket 'hellod' on 127.0.0.1:%d" % a in log, log
    assert "serving passed socket 'second' on 127.0.0.1:%d" % b in log, log
    assert "info: listening on" not in log, log
    assert "metrics on http://127.0.0.1:%d/metrics" % metrics in log, log


def test_passed_socket_must_be_a_listening_stream():
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    fd, path = tempfile.mkstemp(suffix=".conf")
    os.write(fd, b'bind = ["127.0.0.1"];\nport = 0;\n')
    os.close(fd)

    def pass_fd():
        os.dup2(udp.fileno(), 3)

    r = subprocess.run(
        ["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=odd '
         'exec "$0" -c "$1"', HELLOD, path],
        capture_output=True, timeout=TIMEOUT, preexec_fn=pass_fd,
        pass_fds=(udp.fileno(),))
    os.unlink(path)
    assert r.returncode == 1, r
    assert re.search(rb"error: passed descriptor 3 \('odd'\) is not a "
                     rb"listening stream socket\n$", r.stderr), r.stderr


def test_journal_stream_gets_priorities():
    rfd, wfd = os.pipe()
    st = os.fstat(wfd)
    fd, path = tempfile.mkstemp(suffix=".conf")
    os.write(fd, b'bind = ["127.0.0.1"];\nport = 0;\nbacklog = 0;\n')
    os.close(fd)
    env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
    subprocess.run([HELLOD, "-c", path, "-p", "0"], stderr=wfd, env=env,
                   timeout=TIMEOUT)
    os.close(wfd)
    out = os.read(rfd, 65536)
    os.close(rfd)
    os.unlink(path)
    # A config error comes before logging starts: plain text, no prefix.
    assert out.startswith(b"hellod: "), out
    d = Hellod(start=False)
    rfd, wfd = os.pipe()
    st = os.fstat(wfd)
    env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
    proc = subprocess.Popen([HELLOD, "-c", d.conf_path], stderr=wfd,
                            env=env, stdin=subprocess.DEVNULL)
    os.close(wfd)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(TIMEOUT) == 0
    out = os.read(rfd, 65536).decode()
    os.close(rfd)
    lines = out.splitlines()
    assert lines and all(re.match(r"<[3-7]>\S", line) for line in lines), out
    assert any(line.startswith("<6>listening on 127.0.0.1:") for line in lines)


def test_privileges_dropped_after_binding():
    if os.geteuid() != 0:
        print("# not root: nothing to drop")
        return
    d = Hellod('user = "nobody";\n')
    with open("/proc/%d/status" % d.proc.pid) as f:
        status = f.read()
    uid = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
    gid = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
    groups = re.search(r"^Groups:\s*(.*)$", status, re.M).group(1).split()
    assert uid == ["65534"] * 4 and gid == ["65534"] * 4, (uid, gid)
    assert groups == ["65534"], groups
    c = d.connect()
    c.send(b"nobody\n")
    c.expect(b"Hello, nobody!\n")
    d.wait_log(r"running as user nobody \(uid 65534, gid 65534\)")


def test_root_without_user_warns():
    if os.geteuid() != 0:
        print("# not root: no warning expected")
        return
    d = Hellod()
    d.wait_log(r"warning: running as root: set user in .* to drop "
               r"privileges after binding")


def test_d_with_pidfile():
    folder = scratch_dir("hellod-test-")
    pidfile = os.path.join(folder, "hellod.pid")
    conf = os.path.join(folder, "hellod.conf")
    port = free_port()
    with open(conf, "w") as f:
        f.write('port = %d;\nbind = ["127.0.0.1"];\npidfile = "%s";\n'
                % (port, pidfile))
    r = run_hellod("-d", "-c", conf)
    assert r.returncode == 0, r
    with open(pidfile) as f:
        pid = int(f.read())
    try:
        assert os.readlink("/proc/%d/exe" % pid) == HELLOD
        c = Client("127.0.0.1", port)
        c.expect(b"Welcome!\r\n")
        c.close()
        # A second instance with the same pidfile refuses, naming the first.
        with open(conf, "w") as f:
            f.write('port = %d;\nbind = ["127.0.0.1"];\npidfile = "%s";\n'
                    % (free_port(), pidfile))
        r = run_hellod("-d", "-c", conf)
        assert r.returncode == 1, r
        assert r.stderr == (b"hellod: %s: hellod is already running "
                            b"(pid %d)\n" % (pidfile.encode(), pid)), r.stderr
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + TIMEOUT
        while os.path.exists("/proc/%d" % pid) and \
                time.monotonic() < deadline:
            time.sleep(0.02)
    assert not os.path.exists(pidfile), "pidfile left behind"
    os.unlink(conf)
    os.rmdir(folder)


if __name__ == "__main__":
    run(globals())
