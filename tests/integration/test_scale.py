"""Scaling out with real components: HAProxy in front of two hellods
speaking the PROXY protocol, and several hellods sharing one port with
reuse_port through a rolling restart."""

import ctypes
import fcntl
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

from hellodtest import (Client, Hellod, TIMEOUT, _die_with_parent, _libc,
                        _stop_all, free_port, run, scratch_dir)

PROXIED = 'proxy_protocol = true;\nproxy_trusted = ["127.0.0.0/8"];\n'


def _haproxy(front, backends):
    """HAProxy in the foreground, TCP mode, PROXY v2 to each backend."""
    folder = scratch_dir("hellod-haproxy-")
    cfg = os.path.join(folder, "haproxy.cfg")
    servers = "".join(
        "    server h%d 127.0.0.1:%d send-proxy-v2\n" % (i, p)
        for i, p in enumerate(backends))
    with open(cfg, "w") as f:
        f.write("global\n    maxconn 200\n"
                "defaults\n    mode tcp\n    timeout connect 2s\n"
                "    timeout client 30s\n    timeout server 30s\n"
                "frontend greet\n    bind 127.0.0.1:%d\n"
                "    default_backend hellods\n"
                "backend hellods\n    balance roundrobin\n%s"
                % (front, servers))
    proc = subprocess.Popen(["haproxy", "-db", "-f", cfg],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE,
                            preexec_fn=_die_with_parent)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", front), 0.2).close()
            return proc
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise AssertionError("haproxy did not start: %r" % proc.stderr.read())


def _refused(c, timeout=TIMEOUT):
    """Closed without a byte: a FIN, or a reset when bytes were unread."""
    c.sock.settimeout(timeout)
    try:
        assert c.sock.recv(100) == b""
    except ConnectionResetError:
        pass


def _logged_by(instances, pattern, timeout=TIMEOUT):
    """The instances whose log has the pattern, waiting for the first."""
    deadline = time.monotonic() + timeout
    while True:
        found = [d for d in instances if d.log_lines(pattern)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_haproxy_with_proxy_protocol_v2():
    a, b = Hellod(PROXIED), Hellod(PROXIED)
    front = free_port()
    hap = _haproxy(front, [a.port, b.port])
    try:
        clients = []
        for i in range(4):
            c = Client("127.0.0.1", front)
            c.expect(b"Welcome!\r\n")
            c.send(b"via%d\n" % i)
            c.expect(b"Hello, via%d!\n" % i)
            clients.append(c)
        # Each instance logs the real client, seen through HAProxy.
        on_b = []
        for c in clients:
            port = c.sock.getsockname()[1]
            found = _logged_by((a, b), r"connection from 127\.0\.0\.1:%d "
                               r"via 127\.0\.0\.1:" % port)
            assert len(found) == 1, port
            if found[0] is b:
                on_b.append(c)
        assert 0 < len(on_b) < len(clients), "load not spread"
        # Stopping one instance loses no reply of a client on the other.
        done = threading.Event()
        errors = []

        def ping():
            n = 0
            while not done.is_set() and n < 2000:
                try:
                    on_b[0].send(b"p%d\n" % n)
                    on_b[0].expect(b"Hello, p%d!\n" % n)
                except AssertionError as e:
                    errors.append(str(e))
                    return
                n += 1

        t = threading.Thread(target=ping)
        t.start()
        time.sleep(0.2)
        a.signal(signal.SIGTERM)
        assert a.wait() == 0
        time.sleep(0.2)
        done.set()
        t.join()
        assert not errors, errors
    finally:
        _stop(hap)


def test_proxy_header_rules():
    d = Hellod(PROXIED + "proxy_timeout = 1;\n")
    # A valid v1 header, then the client's first line in the same packet.
    c = Client("127.0.0.1", d.port)
    c.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 9999\r\nann\n")
    c.expect(b"Welcome!\r\nHello, ann!\n")
    d.wait_log(r"connection from 192\.0\.2\.7:40000 via 127\.0\.0\.1:")
    c.close()
    d.wait_log(r"close addr=192\.0\.2\.7 port=40000 .*reason=eof$")
    # Garbage instead of a header: closed without a word, logged.
    g = Client("127.0.0.1", d.port)
    g.send(b"Hello there\r\n")
    _refused(g)
    d.wait_log(r"refused 127\.0\.0\.1:\d+ \(proxy\): not a PROXY header")
    # No header in time.
    t = Client("127.0.0.1", d.port)
    started = time.monotonic()
    t.expect_eof(timeout=3)
    assert 0.9 <= time.monotonic() - started < 2.5
    d.wait_log(r"\(proxy\): no PROXY header in time")


def test_header_after_sigterm_gets_welcome_and_goodbye():
    d = Hellod(PROXIED)
    c = Client("127.0.0.1", d.port)
    time.sleep(0.1)  # accepted, waiting for its header
    d.signal(signal.SIGTERM)
    d.wait_log(r"shutting down")
    c.send(b"PROXY TCP4 192.0.2.9 127.0.0.1 40001 9999\r\nlast\n")
    c.expect(b"Welcome!\r\nHello, last!\nServer shutting down, goodbye\r\n")
    c.expect_eof()
    c.close()
    assert d.wait() == 0


def test_untrusted_peer_is_refused():
    d = Hellod('proxy_protocol = true;\nproxy_trusted = ["10.0.0.0/8"];\n')
    c = Client("127.0.0.1", d.port)
    c.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 9999\r\n")
    _refused(c)
    d.wait_log(r"refused 127\.0\.0\.1:\d+ \(proxy\): not a trusted proxy")


RESTARTS = 20


def _rolling_restart():
    """RESTARTS rolling restarts under a client loop of a few hundred
    sessions a second: every session is welcomed and answered, none is
    refused, reset or told goodbye (the old process's drain serves a client
    it accepted just before its SIGTERM)."""
    port = free_port()
    conf = "reuse_port = true;\n"
    old = Hellod(conf, port=port)
    results = {"ok": 0, "failed": []}
    stop = threading.Event()

    def clients(k):
        n, deadline = 0, time.monotonic() + 60
        while not stop.is_set() and n < 10000 and time.monotonic() < deadline:
            try:
                c = Client("127.0.0.1", port, timeout=3)
                c.expect(b"Welcome!\r\n")
                # A client thinks before it speaks: most of a session is
                # this window, where a stop used to find it idle.
                time.sleep(0.005)
                c.send(b"r%d.%d\n" % (k, n))
                c.expect(b"Hello, r%d.%d!\n" % (k, n))
                c.close()
                with lock:
                    results["ok"] += 1
            except (OSError, AssertionError) as e:
                with lock:
                    results["failed"].append("%d.%d: %s" % (k, n, e))
            n += 1
            time.sleep(0.002)

    lock = threading.Lock()
    loops = [threading.Thread(target=clients, args=(k,)) for k in range(3)]
    for t in loops:
        t.start()
    time.sleep(0.3)
    for _ in range(RESTARTS):
        new = Hellod(conf, port=port)
        time.sleep(0.2)
        old.signal(signal.SIGTERM)
        assert old.wait() == 0
        old = new
    time.sleep(0.3)
    stop.set()
    for t in loops:
        t.join()
    print("# %d sessions across %d restarts" % (results["ok"], RESTARTS))
    assert not results["failed"], results["failed"][:5]
    assert results["ok"] > 40 * RESTARTS, results
    assert old.log_lines(r"connection from"), "the last process served none"


NETNS = "--rolling-restart-in-own-netns"


def _unshare_net():
    _die_with_parent()
    if _libc.unshare(0x40000000) != 0:  # CLONE_NEWNET
        raise OSError(ctypes.get_errno(), "unshare")


def _netns_setup():
    """Loopback up, and the kernel setting that lets no client be lost."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ifreq = struct.pack("16sh", b"lo", 0)
    flags = struct.unpack("16sh", fcntl.ioctl(sock, 0x8913, ifreq))[1]
    fcntl.ioctl(sock, 0x8914, struct.pack("16sh", b"lo", flags | 1))
    sock.close()
    with open("/proc/sys/net/ipv4/tcp_migrate_req", "w") as f:
        f.write("1\n")


def test_reuse_port_rolling_restart_refuses_nothing():
    # Linux resets a connection that completes its handshake between the
    # old process's last accept and its close, unless tcp_migrate_req
    # hands it to another socket of the group, as the manual advises.  The
    # test sets it in a network namespace of its own; where it cannot
    # have one, it runs here and that moment stays open.
    try:
        r = subprocess.run([sys.executable, __file__, NETNS],
                           preexec_fn=_unshare_net, capture_output=True,
                           text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise
    except subprocess.SubprocessError:  # no namespace for us here
        _rolling_restart()
        return
    assert r.returncode == 0, r.stdout + r.stderr

if __name__ == "__main__":
    if sys.argv[1:] == [NETNS]:
        _netns_setup()
        try:
            _rolling_restart()
        finally:
            _stop_all()
        sys.exit(0)
    run(globals())
