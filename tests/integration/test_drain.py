"""The lame-duck drain on SIGTERM: clients are served until they have been
quiet for drain_grace_ms, those quiet for longer go at once, and
shutdown_timeout ends it for everyone."""

import resource
import selectors
import signal
import time

from hellodtest import Hellod, SLOWDOWN, run

GOODBYE = b"Server shutting down, goodbye\r\n"
GRACE = 1.5  # drain_grace_ms's default, in seconds


def _drained(d, served, idle, cut):
    d.wait_log(r"drained: %d clients served during the drain, %d dismissed "
               r"idle, %d cut at shutdown_timeout$" % (served, idle, cut))


def test_a_client_that_speaks_after_the_signal_is_served():
    d = Hellod()
    c = d.connect()  # connected just before the stop
    d.signal(signal.SIGTERM)
    d.wait_log(r"shutting down, 1 clients to finish")
    time.sleep(0.2)
    c.send(b"Michael\n")
    c.expect(b"Hello, Michael!\n")
    said = time.monotonic()
    c.expect(GOODBYE, timeout=GRACE + 2)
    quiet = time.monotonic() - said
    c.expect_eof()
    assert d.wait() == 0
    assert GRACE <= quiet < GRACE + 0.5 * SLOWDOWN, quiet
    d.wait_log(r"reason=shutdown$")
    _drained(d, 1, 0, 0)


def test_a_client_quiet_through_the_grace_is_dismissed_idle():
    d = Hellod("drain_grace_ms = 300;\n")
    c = d.connect()
    started = time.monotonic()
    d.signal(signal.SIGTERM)
    c.expect(GOODBYE, timeout=2)
    assert time.monotonic() - started >= 0.3
    c.expect_eof()
    assert d.wait() == 0
    d.wait_log(r"reason=shutdown_idle$")
    _drained(d, 0, 1, 0)


def test_a_stop_with_no_clients_says_nothing_of_a_drain():
    d = Hellod()
    d.connect().close()
    d.wait_log(r"reason=eof$")
    d.signal(signal.SIGTERM)
    assert d.wait() == 0
    d.wait_log(r"info: stopped$")
    assert not d.log_lines(r"drained:"), d.log_text()


def test_thousands_of_long_idle_clients_stop_fast():
    n = 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    d = Hellod()
    clients = [d.connect() for _ in range(n)]
    time.sleep(GRACE + 0.2)  # idle for longer than the grace
    sel = selectors.DefaultSelector()
    for c in clients:
        c.sock.setblocking(False)
        sel.register(c.sock, selectors.EVENT_READ, [c, b""])
    started = time.monotonic()
    d.signal(signal.SIGTERM)
    # Clients that close once told goodbye, as telnet and nc do.
    left, deadline = n, started + 10
    while left and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            c, got = key.data
            data = key.fileobj.recv(4096)
            key.data[1] = got + data
            if not data:
                assert key.data[1] == GOODBYE, key.data[1]
                sel.unregister(key.fileobj)
                c.close()
                left -= 1
    assert left == 0, "%d clients were not told goodbye" % left
    assert d.wait() == 0
    took = time.monotonic() - started
    print("# %d idle clients told goodbye, hellod gone in %.2f s" % (n, took))
    assert took < 1.5 * SLOWDOWN, took


def test_a_client_that_never_falls_quiet_is_cut_at_shutdown_timeout():
    d = Hellod("shutdown_timeout = 2;\n")
    c = d.connect()
    started = time.monotonic()
    d.signal(signal.SIGTERM)
    sent = answered = 0
    ended = None
    while time.monotonic() - started < 5:
        try:
            c.send(b"m%d\n" % sent)
            sent += 1
            want = b"Hello, m%d!\n" % (sent - 1)
            got = c.recv_exact(len(want), timeout=1)
        except (BrokenPipeError, ConnectionResetError):
            got = b""
        if got != want:
            assert got == b"", got
            ended = time.monotonic() - started
            break
        answered += 1
        time.sleep(0.1)
    assert ended is not None, "still served after %d messages" % sent
    # Every message but one in flight at the cut was answered.
    assert answered >= sent - 1 and answered >= 15, (sent, answered)
    assert 2.0 <= ended < 2.0 + 0.5 * SLOWDOWN, ended
    assert d.wait() == 0
    d.wait_log(r"reason=shutdown_timeout$")
    _drained(d, 1, 0, 1)  # served, then cut


if __name__ == "__main__":
    run(globals())
