"""The greeting protocol, spoken over real TCP to the real daemon."""

import os
import socket
import subprocess
import sys
import time

from hellodtest import Hellod, run

HERE = os.path.dirname(os.path.abspath(__file__))


def test_seed_client_exchange():
    d = Hellod()
    out = subprocess.run([sys.executable, os.path.join(HERE, "seed_client.py"),
                          str(d.port)], capture_output=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert out.stdout == (b"Welcome!\r\n\nHello, Michael!\nHello, Tracy!\n"
                          b"Hello, Sarah!\n"), out.stdout
    d.wait_log(r"close addr=127\.0\.0\.1 port=\d+ .*reason=exit$")


def test_seed_client_bytes():
    d = Hellod()
    c = d.connect()
    for name in (b"Michael", b"Tracy", b"Sarah"):
        c.send(name)
        c.expect(b"Hello, " + name + b"!")
    c.send(b"exit")
    c.expect_eof()


def test_nc_style_lf_session():
    d = Hellod()
    c = d.connect()
    c.send(b"Alice\n")
    c.expect(b"Hello, Alice!\n")
    c.send(b"Bob\n")
    c.expect(b"Hello, Bob!\n")
    c.send(b"exit\n")
    c.expect_eof()


def test_telnet_style_crlf_session():
    d = Hellod()
    c = d.connect()
    c.send(b"Alice\r\n")
    c.expect(b"Hello, Alice!\r\n")
    c.send(b"exit\r\n")
    c.expect_eof()


def test_pipelined_lines_in_one_packet():
    d = Hellod()
    c = d.connect()
    c.send(b"one\ntwo\r\nthree\n\nfour\n")
    c.expect(b"Hello, one!\nHello, two!\r\nHello, three!\nHello, four!\n")
    c.send(b"exit\n")
    c.expect_eof()


def test_many_pipelined_lines_keep_order():
    d = Hellod()
    c = d.connect()
    names = [b"n%d" % i for i in range(5000)]
    c.send(b"".join(n + b"\n" for n in names))
    c.expect(b"".join(b"Hello, " + n + b"!\n" for n in names))


def test_line_split_across_writes():
    d = Hellod()
    c = d.connect()
    c.send(b"first\n")
    c.expect(b"Hello, first!\n")
    for part in (b"Mi", b"cha", b"el\r", b"\n"):
        c.send(part)
        time.sleep(0.15)
    c.expect(b"Hello, Michael!\r\n")


def test_fragment_split_milliseconds_apart_is_one_message():
    d = Hellod()
    c = d.connect()
    for part in (b"Mich", b"ael"):
        c.send(part)
        time.sleep(0.01)
    c.expect(b"Hello, Michael!")
    c.expect_silence(0.3)


def test_after_a_terminator_fragments_wait_for_theirs():
    d = Hellod()
    c = d.connect()
    c.send(b"Ann\n")
    c.expect(b"Hello, Ann!\n")
    c.send(b"Bob")
    c.expect_silence(0.5)
    c.send(b"by\n")
    c.expect(b"Hello, Bobby!\n")


def test_line_framing_never_answers_fragments():
    d = Hellod('framing = "line";\n')
    c = d.connect()
    c.send(b"Michael")
    c.expect_silence(0.5)
    c.send(b"\n")
    c.expect(b"Hello, Michael!\n")


def test_raw_framing_answers_fragments_after_lines_too():
    d = Hellod('framing = "raw";\n')
    c = d.connect()
    c.send(b"Ann\n")
    c.expect(b"Hello, Ann!\n")
    c.send(b"Bob")
    c.expect(b"Hello, Bob!")


def test_exit_delivers_earlier_replies_then_closes():
    d = Hellod()
    c = d.connect()
    c.send(b"a\nb\nexit\nc\n")
    c.expect(b"Hello, a!\nHello, b!\n")
    c.expect_eof()
    d.wait_log(r"close addr=127\.0\.0\.1 port=\d+ .*reason=exit$")


def test_exit_must_be_the_whole_message():
    d = Hellod()
    c = d.connect()
    c.send(b"exit now\nExit\n")
    c.expect(b"Hello, exit now!\nHello, Exit!\n")


def test_end_of_stream_without_fragment():
    d = Hellod()
    c = d.connect()
    c.send(b"a\nb\n")
    c.shut_write()
    c.expect(b"Hello, a!\nHello, b!\n")
    c.expect_eof()


def test_end_of_stream_answers_pending_fragment():
    d = Hellod('framing = "line";\n')
    c = d.connect()
    c.send(b"a\nBob")
    c.shut_write()
    c.expect(b"Hello, a!\nHello, Bob!")
    c.expect_eof()


def test_blank_lines_get_no_reply():
    d = Hellod()
    c = d.connect()
    c.send(b"\n\r\n  \t\nx\n")
    c.expect(b"Hello, x!\n")
    c.expect_silence(0.2)


def test_bytes_pass_through():
    d = Hellod()
    c = d.connect()
    name = "Zoë 山田".encode("utf-8")
    c.send(name + b"\r\n")
    c.expect(b"Hello, " + name + b"!\r\n")


def test_over_long_line_gets_error_and_close():
    d = Hellod("max_line = 16;\n")
    c = d.connect()
    c.send(b"x" * 16 + b"\n")
    c.expect(b"Hello, " + b"x" * 16 + b"!\n")
    c.send(b"y" * 17 + b"\n")
    c.expect(b"Error: line too long (max 16 bytes)\r\n")
    c.expect_eof()
    d.wait_log(r"reason=line_too_long$")


def test_over_long_fragment_refused_before_terminator():
    d = Hellod("max_line = 1000;\n")
    c = d.connect()
    c.send(b"z" * 200000)
    c.expect(b"Error: line too long (max 1000 bytes)\r\n")
    c.expect_eof()


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


def test_custom_texts():
    d = Hellod('welcome = "Hi there";\nreply = "100%% %s, ok";\n')
    c = d.connect(welcome=b"Hi there\r\n")
    c.send(b"Ann\n")
    c.expect(b"100% Ann, ok\n")


def test_empty_welcome_sends_nothing():
    d = Hellod('welcome = "";\n')
    c = d.connect(welcome=None)
    c.expect_silence(0.2)
    c.send(b"Ann\n")
    c.expect(b"Hello, Ann!\n")


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


if __name__ == "__main__":
    run(globals())
