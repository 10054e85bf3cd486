"""Signals and reloads: SIGTERM drains, SIGHUP re-reads the config."""

import signal
import socket
import time

from hellodtest import Client, Hellod, run

GOODBYE = b"Server shutting down, goodbye\r\n"


def test_sigterm_with_replies_in_flight():
    d = Hellod()
    c = d.connect()
    names = [b"n%d" % i for i in range(20000)]
    c.send(b"".join(n + b"\n" for n in names))
    c.wait_delivered()
    d.signal(signal.SIGTERM)
    c.expect(b"".join(b"Hello, " + n + b"!\n" for n in names) + GOODBYE)
    c.expect_eof()
    assert d.wait() == 0


def test_sigterm_answers_pending_fragment_of_a_seed_client():
    d = Hellod()
    c = d.connect()
    c.send(b"Michael")
    c.wait_delivered()
    d.signal(signal.SIGTERM)
    c.expect(b"Hello, Michael!" + GOODBYE)
    c.expect_eof()
    assert d.wait() == 0


def test_sigint_stops_idle_server():
    d = Hellod()
    c = d.connect()
    d.signal(signal.SIGINT)
    c.expect(GOODBYE)
    c.expect_eof()
    assert d.wait() == 0
    d.wait_log(r"received SIGINT")


def test_sigterm_stops_accepting():
    d = Hellod()
    port = d.port
    d.signal(signal.SIGTERM)
    assert d.wait() == 0
    try:
        Client("127.0.0.1", port)
    except ConnectionRefusedError:
        return
    raise AssertionError("still accepting after SIGTERM")


def test_sigterm_exits_despite_client_that_never_reads():
    d = Hellod("shutdown_timeout = 1;\n")
    c = d.connect()
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.send(b"x" * 1000 + b"\n")
    c.send(b"y\n" * 200000)
    started = time.monotonic()
    d.signal(signal.SIGTERM)
    assert d.wait(timeout=5) == 0
    assert time.monotonic() - started < 2  # shutdown_timeout + 1 s
    d.wait_log(r"shutdown timeout")


def test_sighup_applies_new_texts_to_new_connections():
    d = Hellod()
    old = d.connect()
    d.write_config('welcome = "Howdy";\nreply = "Hi %s";\n', port=d.port)
    assert "configuration reloaded" in d.reload()
    new = d.connect(welcome=b"Howdy\r\n")
    new.send(b"Ann\n")
    new.expect(b"Hi Ann\n")
    old.send(b"Bob\n")
    old.expect(b"Hello, Bob!\n")


def test_sighup_rebinds_changed_port_without_dropping_clients():
    d = Hellod()
    old_port = d.port
    c = d.connect()
    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    new_port = spare.getsockname()[1]
    spare.close()
    d.write_config("", port=new_port)
    assert "configuration reloaded" in d.reload()
    d.wait_log(r"listening on 127\.0\.0\.1:%d$" % new_port)
    d.wait_log(r"stopped listening on 127\.0\.0\.1:%d$" % old_port)
    c.send(b"still here\n")
    c.expect(b"Hello, still here!\n")
    n = d.connect(port=new_port)
    n.send(b"x\n")
    n.expect(b"Hello, x!\n")
    try:
        Client("127.0.0.1", old_port)
    except ConnectionRefusedError:
        return
    raise AssertionError("old port still accepting")


def test_sighup_adds_an_address():
    d = Hellod()
    d.write_config("", bind=("127.0.0.1", "::1"), port=d.port)
    assert "configuration reloaded" in d.reload()
    c = d.connect("::1", port=d.port)
    c.send(b"x\n")
    c.expect(b"Hello, x!\n")


def test_sighup_with_bad_config_keeps_running():
    d = Hellod()
    c = d.connect()
    d.write_config("port = 70000;\n", port=None)
    line = d.reload()
    assert "reload failed" in line and "hellod.conf:2: port:" in line, line
    c.send(b"a\n")
    c.expect(b"Hello, a!\n")
    n = d.connect()
    n.send(b"b\n")
    n.expect(b"Hello, b!\n")


def test_sighup_with_unbindable_address_keeps_old_listeners():
    d = Hellod()
    d.write_config("", bind=("127.0.0.1", "192.0.2.1"), port=d.port)
    line = d.reload()
    assert "reload failed" in line and "192.0.2.1" in line, line
    c = d.connect()
    c.send(b"a\n")
    c.expect(b"Hello, a!\n")


def test_sigpipe_does_not_kill():
    d = Hellod()
    for _ in range(10):
        c = d.connect()
        c.send(b"x\n" * 50000)
        c.close()
    time.sleep(0.3)
    assert d.proc.poll() is None
    c = d.connect()
    c.send(b"alive\n")
    c.expect(b"Hello, alive!\n")


if __name__ == "__main__":
    run(globals())
