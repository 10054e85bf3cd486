"""The greeting protocol, spoken over real TCP to the real daemon."""

import os
import socket
import subprocess
import sys
import time

from hellodtest import Hellod, add_conversations, run

HERE = os.path.dirname(os.path.abspath(__file__))


def test_seed_client_exchange():
    d = Hellod()
    out = subprocess.run([sys.executable, os.path.join(HERE, "seed_client.py"),
                          str(d.port)], capture_output=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert out.stdout == (b"Welcome!\r\n\nHello, Michael!\nHello, Tracy!\n"
                          b"Hello, Sarah!\n"), out.stdout
    d.wait_log(r"close addr=127\.0\.0\.1 port=\d+ .*reason=exit$")


EXIT_LOGGED = ("log", r"close addr=127\.0\.0\.1 port=\d+ .*reason=exit$")
NAMES = [b"n%d" % i for i in range(5000)]

# One client's conversation per row: (name, config, steps[, welcome]).
CONVERSATIONS = [
    ("seed client bytes", "", [
        ("send", b"Michael"), ("expect", b"Hello, Michael!"),
        ("send", b"Tracy"), ("expect", b"Hello, Tracy!"),
        ("send", b"Sarah"), ("expect", b"Hello, Sarah!"),
        ("send", b"exit"), ("eof",)]),
    ("nc style lf session", "", [
        ("send", b"Alice\n"), ("expect", b"Hello, Alice!\n"),
        ("send", b"Bob\n"), ("expect", b"Hello, Bob!\n"),
        ("send", b"exit\n"), ("eof",), EXIT_LOGGED]),
    ("telnet style crlf session", "", [
        ("send", b"Alice\r\n"), ("expect", b"Hello, Alice!\r\n"),
        ("send", b"exit\r\n"), ("eof",)]),
    ("pipelined lines in one packet", "", [
        ("send", b"one\ntwo\r\nthree\n\nfour\n"),
        ("expect", b"Hello, one!\nHello, two!\r\nHello, three!\n"
                   b"Hello, four!\n"),
        ("send", b"exit\n"), ("eof",)]),
    ("many pipelined lines keep order", "", [
        ("send", b"".join(n + b"\n" for n in NAMES)),
        ("expect", b"".join(b"Hello, " + n + b"!\n" for n in NAMES))]),
    ("line split across writes", "", [
        ("send", b"first\n"), ("expect", b"Hello, first!\n"),
        ("send", b"Mi"), ("pause", 0.15), ("send", b"cha"), ("pause", 0.15),
        ("send", b"el\r"), ("pause", 0.15), ("send", b"\n"),
        ("expect", b"Hello, Michael!\r\n")]),
    ("fragment split milliseconds apart is one message", "", [
        ("send", b"Mich"), ("pause", 0.01), ("send", b"ael"),
        ("expect", b"Hello, Michael!"), ("silence", 0.3)]),
    ("after a terminator fragments wait for theirs", "", [
        ("send", b"Ann\n"), ("expect", b"Hello, Ann!\n"),
        ("send", b"Bob"), ("silence", 0.5),
        ("send", b"by\n"), ("expect", b"Hello, Bobby!\n")]),
    ("line framing never answers fragments", 'framing = "line";\n', [
        ("send", b"Michael"), ("silence", 0.5),
        ("send", b"\n"), ("expect", b"Hello, Michael!\n")]),
    ("raw framing answers fragments after lines too", 'framing = "raw";\n', [
        ("send", b"Ann\n"), ("expect", b"Hello, Ann!\n"),
        ("send", b"Bob"), ("expect", b"Hello, Bob!")]),
    ("exit delivers earlier replies then closes", "", [
        ("send", b"a\nb\nexit\nc\n"), ("expect", b"Hello, a!\nHello, b!\n"),
        ("eof",), EXIT_LOGGED]),
    ("exit must be the whole message", "", [
        ("send", b"exit now\nExit\n"),
        ("expect", b"Hello, exit now!\nHello, Exit!\n")]),
    ("end of stream without fragment", "", [
        ("send", b"a\nb\n"), ("shut",), ("expect", b"Hello, a!\nHello, b!\n"),
        ("eof",)]),
    ("end of stream answers pending fragment", 'framing = "line";\n', [
        ("send", b"a\nBob"), ("shut",), ("expect", b"Hello, a!\nHello, Bob!"),
        ("eof",)]),
    ("blank lines get no reply", "", [
        ("send", b"\n\r\n  \t\nx\n"), ("expect", b"Hello, x!\n"),
        ("silence", 0.2)]),
    ("bytes pass through", "", [
        ("send", "Zoë 山田\r\n".encode()),
        ("expect", "Hello, Zoë 山田!\r\n".encode())]),
    ("over long line gets error and close", "max_line = 16;\n", [
        ("send", b"x" * 16 + b"\n"), ("expect", b"Hello, " + b"x" * 16 + b"!\n"),
        ("send", b"y" * 17 + b"\n"),
        ("expect", b"Error: line too long (max 16 bytes)\r\n"), ("eof",),
        ("log", r"reason=line_too_long$")]),
    ("over long fragment refused before terminator", "max_line = 1000;\n", [
        ("send", b"z" * 200000),
        ("expect", b"Error: line too long (max 1000 bytes)\r\n"), ("eof",)]),
    ("custom texts", 'welcome = "Hi there";\nreply = "100%% %s, ok";\n', [
        ("send", b"Ann\n"), ("expect", b"100% Ann, ok\n")], b"Hi there\r\n"),
    ("empty welcome sends nothing", 'welcome = "";\n', [
        ("silence", 0.2), ("send", b"Ann\n"), ("expect", b"Hello, Ann!\n")],
        None),
    ("telnet commands are removed and interrupt ends the session", "", [
        ("send", b"Bob\r\n"), ("expect", b"Hello, Bob!\r\n"),
        ("send", b"Al\xff\xfb\x18ice\xff\xfd\x01\r\n"),
        ("expect", b"Hello, Alice!\r\n"),
        ("send", b"a\xff\xffb\r\n"), ("expect", b"Hello, a\xffb!\r\n"),
        ("send", b"\xff\xf4\xff\xfd\x06"),
        ("expect", b"\xff\xfc\x06Interrupted, goodbye\r\n"), ("eof",),
        ("log", r"reason=interrupt$")]),
    ("ctrl d on a line closes", "", [
        ("send", b"x\n\x04\n"), ("expect", b"Hello, x!\n"), ("eof",)]),
    ("ctrl d unterminated closes", "", [
        ("send", b"y\n\x04"), ("expect", b"Hello, y!\n"), ("eof",)]),
]


def test_two_clients_never_wait_on_each_other():
    d = Hellod('framing = "line";\n')
    slow = d.connect()
    slow.send(b"half a li")
    fast = d.connect()
    started = time.monotonic()
    fast.send(b"quick\n")
    fast.expect(b"Hello, quick!\n")
    assert time.monotonic() - started < 1.0
    slow.send(b"ne\n")
    slow.expect(b"Hello, half a line!\n")


def test_ipv6_loopback():
    d = Hellod(bind=("::1",))
    c = d.connect("::1")
    c.send(b"six\n")
    c.expect(b"Hello, six!\n")
    d.wait_log(r"connection from \[::1\]:\d+")


def test_default_bind_listens_on_both_loopbacks():
    d = Hellod(bind=None)
    assert set(d.ports) == {"127.0.0.1", "::1"}, d.ports
    assert len(set(d.ports.values())) == 1, "one port for every address"
    for host in ("127.0.0.1", "::1"):
        c = d.connect(host)
        c.send(b"x\n")
        c.expect(b"Hello, x!\n")


def test_connect_and_close_are_logged():
    d = Hellod()
    c = d.connect()
    port = c.sock.getsockname()[1]
    c.send(b"a\nexit\n")
    c.expect(b"Hello, a!\n")
    c.expect_eof()
    d.wait_log(r"connection from 127\.0\.0\.1:%d$" % port)
    d.wait_log(r"info: close addr=127\.0\.0\.1 port=%d duration=[0-9.]+ "
               r"messages=1 bytes_in=7 bytes_out=20 reason=exit$" % port)


def test_client_reset_does_not_hurt_server():
    d = Hellod()
    for _ in range(20):
        c = d.connect()
        c.send(b"x\n" * 1000)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()
    c = d.connect()
    c.send(b"still\n")
    c.expect(b"Hello, still!\n")


add_conversations(globals(), CONVERSATIONS)

if __name__ == "__main__":
    run(globals())
