"""Many clients at once, and many in a row: every reply verified, nothing
lost, and descriptors and memory back where they started."""

import resource
import selectors
import socket
import time

from hellodtest import Hellod, SANITIZED, run


def _conversation(selector, clients, want):
    """Reads until every client has its expected bytes; returns what came."""
    got = {c: b"" for c in clients}
    pending = set(clients)
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            s = key.fileobj
            chunk = s.recv(65536)
            assert chunk, "connection closed early"
            got[s] += chunk
            if len(got[s]) >= len(want[s]):
                pending.discard(s)
                selector.unregister(s)
    return got


def test_thousand_clients_hundred_messages_each():
    d = Hellod()
    n_clients, n_messages = 1000, 100
    clients, want = [], {}
    sel = selectors.DefaultSelector()
    for i in range(n_clients):
        s = socket.create_connection(("127.0.0.1", d.port))
        s.setblocking(False)
        clients.append(s)
    for i, s in enumerate(clients):
        names = [b"c%d-m%d" % (i, j) for j in range(n_messages)]
        s.setblocking(True)
        s.sendall(b"".join(n + b"\n" for n in names))
        s.setblocking(False)
        want[s] = b"Welcome!\r\n" + b"".join(b"Hello, " + n + b"!\n"
                                             for n in names)
        sel.register(s, selectors.EVENT_READ)
    got = _conversation(sel, clients, want)
    bad = [i for i, s in enumerate(clients) if got[s] != want[s]]
    assert not bad, "%d clients got wrong bytes, first: %d" % (len(bad),
                                                               bad[0])
    for s in clients:
        s.close()


def test_ten_thousand_connections_leave_nothing_behind():
    d = Hellod()
    for _ in range(200):  # warm up allocator and libevent's tables
        socket.create_connection(("127.0.0.1", d.port)).close()
    time.sleep(0.2)
    fds, rss = d.fd_count(), d.rss_kib()
    for i in range(10000):
        s = socket.create_connection(("127.0.0.1", d.port))
        if i % 100 == 0:
            s.settimeout(5)
            s.sendall(b"n\n")
            assert s.recv(100).startswith(b"Welcome!")
        s.close()
    # Every connection closed in hellod too, including any still queued
    # for accept when the loop ended: only then is the count settled.
    d.wait_log(r" close addr=", count=10200, timeout=10)
    assert d.fd_count() == fds, (d.fd_count(), fds)
    if not SANITIZED:
        assert abs(d.rss_kib() - rss) <= 1024, (rss, d.rss_kib())


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    run(globals())
