"""The operator's view: the metrics endpoint (checked by promtool), the
health check during a drain, SIGUSR1's stats line, and the connection log
in text and JSON."""

import json
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from hellodtest import Client, Hellod, free_port, run

FAMILIES = [
    ("hellod_connections_accepted_total", "counter"),
    ("hellod_connections_active", "gauge"),
    ("hellod_connections_rejected_total", "counter"),
    ("hellod_connections_closed_total", "counter"),
    ("hellod_tls_handshakes_total", "counter"),
    ("hellod_messages_total", "counter"),
    ("hellod_bytes_received_total", "counter"),
    ("hellod_bytes_sent_total", "counter"),
    ("hellod_reloads_total", "counter"),
    ("hellod_listeners", "gauge"),
    ("hellod_workers", "gauge"),
    ("hellod_uptime_seconds", "gauge"),
    ("hellod_build_info", "gauge"),
]


def _get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _samples(text):
    """{'name{labels}': value} from the exposition text."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def test_metrics_count_what_happened():
    mport = free_port()
    d = Hellod('metrics_bind = "127.0.0.1:%d";\nmax_clients = 2;\n' % mport)
    d.wait_log(r"metrics on http://127\.0\.0\.1:%d/metrics" % mport)
    a = d.connect()
    a.send(b"one\ntwo\n")
    a.expect(b"Hello, one!\nHello, two!\n")
    b = d.connect()
    busy = Client("127.0.0.1", d.port)
    busy.expect(b"Error: server busy, try again later\r\n")
    b.send(b"exit\n")
    b.expect_eof()
    b.close()
    d.wait_log(r"reason=exit$")
    status, text = _get(mport, "/metrics")
    assert status == 200, status
    for name, kind in FAMILIES:
        assert "# HELP %s " % name in text, name
        assert "# TYPE %s %s\n" % (name, kind) in text, name
    m = _samples(text)
    assert m["hellod_connections_accepted_total"] == 2, m
    assert m["hellod_connections_active"] == 1, m
    assert m['hellod_connections_rejected_total{reason="busy"}'] == 1, m
    assert m['hellod_connections_closed_total{reason="exit"}'] == 1, m
    assert m["hellod_messages_total"] == 2, m
    assert m["hellod_bytes_received_total"] == 8 + 5, m
    # two welcomes, two replies, the busy line
    assert m["hellod_bytes_sent_total"] == 10 * 2 + 24 + 37, m
    assert m["hellod_listeners"] == 1 and m["hellod_workers"] >= 1, m
    assert re.search(r'^hellod_build_info\{version="[^"]+"\} 1$', text, re.M)
    status, _ = _get(mport, "/nothing")
    assert status == 404


def test_promtool_accepts_the_metrics():
    mport = free_port()
    d = Hellod('metrics_bind = "127.0.0.1:%d";\n' % mport)
    d.connect().send(b"x\n")
    _, text = _get(mport, "/metrics")
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=30)
    assert r.returncode == 0, (r.stdout, r.stderr)


def test_healthz_says_503_while_draining():
    mport = free_port()
    d = Hellod('metrics_bind = "127.0.0.1:%d";\nshutdown_timeout = 3;\n'
               'drain_grace_ms = 300;\n' % mport)
    assert _get(mport, "/healthz") == (200, "ok\n")
    idle = d.connect()
    c = d.connect()
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.send(b"y\n" * 100000)  # replies it never reads keep hellod draining
    time.sleep(0.4)  # both quiet for longer than the grace
    d.signal(signal.SIGTERM)
    d.wait_log(r"shutting down")
    assert _get(mport, "/healthz") == (503, "draining\n")
    # The drain's closes are told apart: this one said nothing in it.
    idle.expect(b"Server shutting down, goodbye\r\n")
    idle.expect_eof()
    idle.close()
    key = 'hellod_connections_closed_total{reason="shutdown_idle"}'
    deadline = time.monotonic() + 2
    while _samples(_get(mport, "/metrics")[1]).get(key) != 1:
        assert time.monotonic() < deadline, _get(mport, "/metrics")[1]
        time.sleep(0.05)
    assert d.wait(timeout=6) == 0
    # The flooding client goes idle too, or is cut if it is still stuck.
    d.wait_log(r"drained: 0 clients served during the drain, (2 dismissed "
               r"idle, 0|1 dismissed idle, 1) cut at shutdown_timeout$")


def test_reload_says_what_waits_for_a_restart():
    mport = free_port()
    d = Hellod('metrics_bind = "127.0.0.1:%d";\n' % mport)
    d.write_config('metrics_bind = "127.0.0.1:%d";\nworkers = 3;\n'
                   % free_port(), port=d.port)
    assert "configuration reloaded" in d.reload()
    d.wait_log(r"warning: metrics_bind: the change takes effect on restart "
               r"only")
    d.wait_log(r"warning: workers: the number of workers changes on restart")
    assert _get(mport, "/healthz") == (200, "ok\n")


def test_sigusr1_logs_the_figures():
    d = Hellod()
    c = d.connect()
    c.send(b"a\nb\nc\n")
    c.expect(b"Hello, a!\nHello, b!\nHello, c!\n")
    # The worker counts a send just after the kernel took it: the client
    # can see the bytes a moment before the counter does.
    want = (r"stats connections=1 active=1 rejected=0 closed=0 messages=3 "
            r"bytes_in=6 bytes_out=40 ")
    for n in range(1, 11):
        d.signal(signal.SIGUSR1)
        line = d.wait_log(r"info: stats ", count=n)
        if re.search(want, line):
            break
        time.sleep(0.05)
    assert re.search(want, line), line


def test_json_connection_log():
    d = Hellod('log_format = "json";\n', start=False)
    d.start(ready=False)
    d.wait_log(r'"msg":"hellod \S+ ready')
    port = int(re.search(r'listening on 127\.0\.0\.1:(\d+)',
                         d.wait_log(r"listening on")).group(1))
    c = Client("127.0.0.1", port)
    local_port = c.sock.getsockname()[1]
    c.expect(b"Welcome!\r\n")
    c.send(b"\x1b[31mred\nexit\n")
    c.expect(b"Hello, \x1b[31mred!\n")
    c.expect_eof()
    c.close()
    line = d.wait_log(r'"event":"close"')
    event = json.loads(line)
    assert event["addr"] == "127.0.0.1", event
    assert event["port"] == local_port, event
    assert event["reason"] == "exit" and event["messages"] == 1, event
    assert event["bytes_in"] == 14 and event["bytes_out"] == 10 + 17, event
    assert isinstance(event["duration"], float), event
    assert event["level"] == "info" and event["time"].endswith("Z"), event
    for raw in d.log_text().splitlines():
        json.loads(raw)  # every line is one object
    assert "\x1b" not in d.log_text()


REFUSED = r"refused 127\.0\.0\.1:\d+ \(busy\)"
SUPPRESSED = r"warning: \d+ similar messages suppressed"


def _refusal_flood():
    """A server whose one client slot is taken, after 40 refusals in a
    burst and the second they fell in.  One loop: the limit is per loop,
    and the count is told by the loop that dropped lines."""
    d = Hellod("max_clients = 1;\nworkers = 1;\n")
    keep = d.connect()
    for _ in range(40):
        s = socket.create_connection(("127.0.0.1", d.port))
        s.recv(100)
        s.close()
    # The log reaches us a little after the refusals themselves.
    d.wait_log(REFUSED, count=5)
    time.sleep(1.1)
    return d, keep


def test_flood_of_identical_warnings_is_cut():
    d, keep = _refusal_flood()
    assert len(d.log_lines(REFUSED)) < 40, len(d.log_lines(REFUSED))
    # The next warning, a second later, says how many were left out.
    s = socket.create_connection(("127.0.0.1", d.port))
    s.recv(100)
    s.close()
    d.wait_log(SUPPRESSED)
    keep.send(b"z\n")
    keep.expect(b"Hello, z!\n")


def test_flood_count_is_told_before_the_next_line_of_any_level():
    # No further warning comes: the next line, an info one, brings it.
    d, keep = _refusal_flood()
    keep.close()
    closed = d.wait_log(r"reason=eof$")
    lines = d.log_text().splitlines()
    told = [i for i, l in enumerate(lines) if re.search(SUPPRESSED, l)]
    assert told and told[0] < lines.index(closed), lines[-5:]

if __name__ == "__main__":
    run(globals())
