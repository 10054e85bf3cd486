"""Who may connect: allow and deny rules and the per-address connection
rate, against the real daemon, with clients from several loopback
addresses and, behind the PROXY protocol, from any address at all."""

import re
import socket
import time
import urllib.request

from hellodtest import Client, Hellod, TIMEOUT, free_port, run

RATE_ERROR = b"Error: too many new connections from your address, try " \
    b"again later\r\n"
PROXIED = 'proxy_protocol = true;\nproxy_trusted = ["127.0.0.0/8"];\n'


def _from(src, d, port=None):
    """A connection to d whose source address is src (127.x.y.z or ::1)."""
    family = socket.AF_INET6 if ":" in src else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.bind((src, 0))
    s.connect((src if family == socket.AF_INET6 else "127.0.0.1",
               port or d.port))
    return s


def _first_bytes(s):
    """What the server says first, b"" when it closes without a word."""
    try:
        return s.recv(200)
    except ConnectionResetError:
        return b""
    finally:
        s.close()


def _served(d, src):
    return _first_bytes(_from(src, d)) == b"Welcome!\r\n"


def _proxied(d, src, text=b""):
    """A client at src behind a PROXY v1 header; what it hears first."""
    family = b"TCP6" if b":" in src else b"TCP4"
    dst = b"::1" if family == b"TCP6" else b"127.0.0.1"
    c = Client("127.0.0.1", d.port)
    c.send(b"PROXY %s %s %s 40000 9999\r\n%s" % (family, src, dst, text))
    return _first_bytes(c.sock)


def _rejected(mport):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport,
                                timeout=5) as r:
        text = r.read().decode()
    return {m.group(1): float(m.group(2)) for m in re.finditer(
        r'^hellod_connections_rejected_total\{reason="(\w+)"\} (\S+)$',
        text, re.M)}


def test_most_specific_rule_decides():
    d = Hellod('allow = ["127.0.0.0/8"];\ndeny = ["127.0.0.2", '
               '"127.0.1.0/24"];\n', bind=("127.0.0.1", "::1"))
    assert _served(d, "127.0.0.1")
    assert _served(d, "127.0.0.3")
    assert not _served(d, "127.0.0.2")
    assert not _served(d, "127.0.1.9")
    # allow names IPv4 ranges only: an IPv6 client is in none of them.
    assert not _served(d, "::1")
    d.wait_log(r"warning: refused 127\.0\.0\.2:\d+ \(denied\)$")
    d.wait_log(r"warning: refused \[::1\]:\d+ \(denied\)$")
    assert not d.log_lines(r"connection from 127\.0\.0\.2:")


def test_allow_inside_deny_lets_one_host_in():
    d = Hellod('deny = ["0.0.0.0/0", "::/0"];\nallow = ["127.0.0.5"];\n')
    assert _served(d, "127.0.0.5")
    assert not _served(d, "127.0.0.1")


def test_refusal_flood_is_cut_in_the_log():
    d = Hellod('deny = ["127.0.0.9"];\nworkers = 1;\n')
    for _ in range(40):
        assert _first_bytes(_from("127.0.0.9", d)) == b""
    d.wait_log(r"\(denied\)$", count=5)
    time.sleep(1.1)
    assert _served(d, "127.0.0.1")  # the next line tells the count
    d.wait_log(r"warning: \d+ similar messages suppressed")
    assert len(d.log_lines(r"\(denied\)$")) < 40


def test_rules_judge_the_address_in_the_proxy_header():
    d = Hellod(PROXIED + 'deny = ["192.0.2.0/24", "2001:db8:bad::/48"];\n')
    assert _proxied(d, b"192.0.2.7", b"x\n") == b""
    d.wait_log(r"refused 192\.0\.2\.7:40000 \(denied\)$")
    assert _proxied(d, b"198.51.100.1") == b"Welcome!\r\n"
    assert _proxied(d, b"2001:db8:bad::1") == b""
    assert _proxied(d, b"2001:db8:600d::1") == b"Welcome!\r\n"


def test_reload_applies_rules_to_new_connections():
    d = Hellod()
    kept = d.connect()
    d.write_config('deny = ["127.0.0.1"];\n', port=d.port)
    assert "configuration reloaded" in d.reload()
    assert not _served(d, "127.0.0.1")
    assert _served(d, "127.0.0.2")
    # The client from before the reload keeps being served.
    kept.send(b"still\n")
    kept.expect(b"Hello, still!\n")
    d.write_config('deny = ["127.0.0.1/33"];\n', port=d.port)
    assert re.search(r"reload failed.*deny: '127\.0\.0\.1/33': the prefix "
                     r"must be 0 to 32", d.reload())
    assert not _served(d, "127.0.0.1")  # the old rules stay


def _burst(d, src, n):
    """n connections from src as fast as they go: (served, refused with the
    rate's line, seconds from the first to the last)."""
    served = refused = 0
    started = time.monotonic()
    for _ in range(n):
        first = _first_bytes(_from(src, d))
        if first == b"Welcome!\r\n":
            served += 1
        else:
            assert first == RATE_ERROR, first
            refused += 1
    return served, refused, time.monotonic() - started


def test_connection_rate_allows_the_burst_then_the_rate():
    mport = free_port()
    d = Hellod('connection_rate = 2;\nconnection_burst = 3;\n'
               'metrics_bind = "127.0.0.1:%d";\n' % mport)
    served, refused, took = _burst(d, "127.0.0.1", 10)
    assert 3 <= served <= 3 + 2 * took + 1, (served, took)
    assert refused == 10 - served
    d.wait_log(r"warning: refused 127\.0\.0\.1:\d+ \(rate\)$")
    # Another address has its own bucket.
    assert _served(d, "127.0.0.2")
    time.sleep(0.6)  # a token more
    assert _served(d, "127.0.0.1")
    assert _rejected(mport)["rate"] == refused


def test_connection_rate_holds_across_workers():
    d = Hellod('connection_rate = 1;\nconnection_burst = 5;\nworkers = 4;\n'
               'reuse_port = true;\n')
    served, refused, took = _burst(d, "127.0.0.1", 24)
    assert 5 <= served <= 5 + took + 1, (served, took)


def test_ipv6_clients_share_a_bucket_per_prefix():
    d = Hellod(PROXIED + 'connection_rate = 1;\nconnection_burst = 2;\n')
    assert _proxied(d, b"2001:db8:1:2::1") == b"Welcome!\r\n"
    assert _proxied(d, b"2001:db8:1:2::2") == b"Welcome!\r\n"
    assert _proxied(d, b"2001:db8:1:2:ffff::3") == RATE_ERROR
    assert _proxied(d, b"2001:db8:1:3::1") == b"Welcome!\r\n"


def test_refusals_are_counted_by_reason():
    mport = free_port()
    d = Hellod('deny = ["127.0.0.4"];\nmetrics_bind = "127.0.0.1:%d";\n'
               % mport)
    for _ in range(3):
        assert not _served(d, "127.0.0.4")
    d.wait_log(r"\(denied\)$", count=3)
    counts = _rejected(mport)
    assert counts["denied"] == 3 and counts["rate"] == 0, counts


if __name__ == "__main__":
    run(globals())
