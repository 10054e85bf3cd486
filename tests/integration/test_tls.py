"""TLS listeners, with the clients people use: openssl s_client, ncat
--ssl and the seed tutorial's client wrapped in Python's ssl module; the
certificates (valid, for another name, expired, a client's) made here
with the openssl command line.  Also: plain text and silence on the TLS
port, old protocol versions, client certificates, a reload that rotates
the certificate and one that brings a broken one, PROXY before TLS,
socket activation, backpressure and the drain over TLS, the metrics, and
hellod -t on bad TLS files."""

import os
import re
import runpy
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
import urllib.request
import warnings

from hellodtest import (Client, Hellod, HELLOD, TIMEOUT, converse, free_port,
                        run, run_hellod, scratch_dir)
from test_protocol import CONVERSATIONS
from tlscerts import Authority, tls_conf

HERE = os.path.dirname(os.path.abspath(__file__))
CA = Authority()
SERVER = CA.issue("localhost")
SESSION_IN = b"Michael\nexit\n"
SESSION_OUT = b"Welcome!\r\nHello, Michael!\n"


def _tls(extra="", pair=SERVER, conf=""):
    return Hellod(tls_conf(pair, extra) + conf)


def _tool(argv, data=SESSION_IN, ok=True):
    r = subprocess.run(argv, input=data, capture_output=True,
                       timeout=TIMEOUT * 2)
    if ok:
        assert r.returncode == 0, r
    return r


def _metrics(mport):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport,
                                timeout=TIMEOUT) as r:
        text = r.read().decode()
    return {k: float(v) for k, v in
            (l.rsplit(" ", 1) for l in text.splitlines()
             if l and not l.startswith("#"))}


def _handshake_fails(d, ctx, **kw):
    try:
        c = d.connect(tls=ctx, welcome=None, **kw)
        # TLS 1.3 clients learn of a refused certificate on their first read
        data = c.sock.recv(100)
        raise AssertionError("handshake went through: %r" % data)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
        return e


def test_s_client_is_served_and_checks_the_certificate():
    d = _tls()
    r = _tool(["openssl", "s_client", "-quiet", "-connect",
               "127.0.0.1:%d" % d.tls_ports["127.0.0.1"], "-CAfile",
               CA.ca.cert, "-verify_return_error", "-verify_hostname",
               "localhost"])
    assert r.stdout == SESSION_OUT, r
    d.wait_log(r"close addr=127\.0\.0\.1 port=\d+ .* bytes_in=13 "
               r"bytes_out=26 tls=TLSv1\.3 reason=exit$")


def test_a_key_update_mid_session_is_answered():
    # s_client's "K" line sends a TLS 1.3 KeyUpdate that asks for ours:
    # hellod writes it from within a read, and the session goes on.
    d = _tls()
    script = b"".join((b"Michael\n", b"K\n", b"Tracy\n", b"exit\n"))
    proc = subprocess.Popen(
        ["openssl", "s_client", "-msg", "-connect",
         "127.0.0.1:%d" % d.tls_ports["127.0.0.1"], "-CAfile", CA.ca.cert],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    try:
        for line in script.splitlines(keepends=True):
            proc.stdin.write(line)
            proc.stdin.flush()
            time.sleep(0.2)
        out, _ = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert b"KEYUPDATE" in out, out
    # hellod's own key update, sent with its next reply
    assert b"<<< TLS 1.3, Handshake [length 0005], KeyUpdate" in out, out
    assert b"Hello, Michael!\n" in out and b"Hello, Tracy!\n" in out, out
    d.wait_log(r"messages=2 .* tls=TLSv1\.3 reason=exit$")


def test_ncat_ssl_is_served():
    d = _tls()
    r = _tool(["ncat", "--ssl", "--ssl-verify", "--ssl-trustfile",
               CA.ca.cert, "localhost", str(d.tls_ports["127.0.0.1"])])
    assert r.stdout == SESSION_OUT, r


def test_the_seed_client_over_tls():
    d = _tls()
    wrapper = (
        "import runpy, socket, ssl, sys\n"
        "ctx = ssl.create_default_context(cafile=sys.argv[2])\n"
        "plain = socket.socket\n"
        "class TLSSocket:\n"
        "    def __init__(self, *args):\n"
        "        self.raw = plain(*args)\n"
        "    def connect(self, addr):\n"
        "        self.raw.connect(addr)\n"
        "        self.tls = ctx.wrap_socket(self.raw,\n"
        "                                   server_hostname='localhost')\n"
        "    def __getattr__(self, name):\n"
        "        return getattr(self.tls, name)\n"
        "socket.socket = TLSSocket\n"
        "sys.argv = [sys.argv[3], sys.argv[1]]\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n")
    r = _tool([sys.executable, "-c", wrapper,
               str(d.tls_ports["127.0.0.1"]), CA.ca.cert,
               os.path.join(HERE, "seed_client.py")], data=b"")
    assert r.stdout == (b"Welcome!\r\n\nHello, Michael!\nHello, Tracy!\n"
                        b"Hello, Sarah!\n"), r


def test_plain_tcp_and_tls_side_by_side_on_one_daemon():
    d = _tls()
    plain = d.connect()
    tls = d.connect(tls=CA.client_context())
    for c in (plain, tls):
        c.send(b"both\n")
        c.expect(b"Hello, both!\n")
    assert tls.sock.version() in ("TLSv1.2", "TLSv1.3")


def test_a_certificate_for_another_name_is_refused_by_the_client():
    other = CA.issue("elsewhere.example", names="DNS:elsewhere.example")
    mport = free_port()
    d = _tls(pair=other, extra='metrics_bind = "127.0.0.1:%d";\n' % mport)
    e = _handshake_fails(d, CA.client_context())
    assert "match" in str(e) or "mismatch" in str(e), e
    d.wait_log(r"reason=tls_error error=.*(bad certificate|unknown|"
               r"certificate)")
    m = _metrics(mport)
    assert m['hellod_tls_handshakes_total{result="failed"}'] == 1, m
    assert m['hellod_connections_closed_total{reason="tls_error"}'] == 1, m


def test_an_expired_certificate_is_served_with_a_warning_and_refused():
    expired = CA.issue("localhost", days=-1)
    r = run_hellod("-t", "-c", _conf_file(tls_conf(expired)))
    assert r.returncode == 0, r
    assert re.search(rb"warning: tls_certificate: '.*' expired on "
                     rb"\d{4}-\d\d-\d\d", r.stderr), r
    d = _tls(pair=expired)
    e = _handshake_fails(d, CA.client_context())
    assert "expired" in str(e), e
    d.wait_log(r"reason=tls_error error=")


def test_tls_1_1_is_refused():
    d = _tls()
    ctx = CA.client_context()
    with warnings.catch_warnings():  # what a current client would refuse
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT@SECLEVEL=0")
    _handshake_fails(d, ctx)
    d.wait_log(r'reason=tls_error error="(unsupported protocol|no '
               r'protocols available|.*version)"')


def test_tls_1_2_is_served():
    d = _tls()
    ctx = CA.client_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    c = d.connect(tls=ctx)
    c.send(b"twelve\nexit\n")
    c.expect(b"Hello, twelve!\n")
    c.expect_eof()
    d.wait_log(r"tls=TLSv1\.2 reason=exit$")


def test_plain_text_to_the_tls_port_is_one_line_and_a_reason():
    mport = free_port()
    d = _tls('metrics_bind = "127.0.0.1:%d";\n' % mport)
    c = Client("127.0.0.1", d.tls_ports["127.0.0.1"])
    c.send(b"Michael")
    data = c.sock.recv(100)  # an alert, or nothing: closed, not reset
    assert b"Welcome" not in data and b"Hello" not in data, data
    c.expect_eof()
    line = d.wait_log(r"reason=tls_error")
    assert re.search(r"close addr=127\.0\.0\.1 port=\d+ duration=\S+ "
                     r"messages=0 bytes_in=0 bytes_out=0 reason=tls_error "
                     r"error=\S", line), line
    assert len(d.log_lines(r"tls_error|wrong version")) == 1
    m = _metrics(mport)
    assert m['hellod_connections_closed_total{reason="tls_error"}'] == 1, m
    assert m['hellod_tls_handshakes_total{result="failed"}'] == 1, m
    assert m['hellod_tls_handshakes_total{result="ok"}'] == 0, m


def test_a_silent_client_meets_the_handshake_timeout():
    mport = free_port()
    d = _tls('tls_handshake_timeout = 1;\nmetrics_bind = "127.0.0.1:%d";\n'
             % mport)
    c = Client("127.0.0.1", d.tls_ports["127.0.0.1"])
    started = time.monotonic()
    c.expect_eof(timeout=3)
    took = time.monotonic() - started
    assert 0.8 < took < 2.5, took
    d.wait_log(r'reason=tls_error error="no TLS handshake in time"$')
    m = _metrics(mport)
    assert m['hellod_tls_handshakes_total{result="timeout"}'] == 1, m


def test_a_client_certificate_is_required_when_a_ca_is_set():
    alice = CA.issue("alice", client=True)
    stranger = Authority("other CA").issue("mallory", client=True)
    d = _tls('tls_client_ca = "%s";\n' % CA.ca.cert)
    c = d.connect(tls=CA.client_context(alice))
    c.send(b"alice\nexit\n")
    c.expect(b"Hello, alice!\n")
    c.expect_eof()
    d.wait_log(r'tls=TLSv1\.3 client="/CN=alice" reason=exit$')
    _handshake_fails(d, CA.client_context())
    d.wait_log(r"reason=tls_error error=.*certificate")
    _handshake_fails(d, CA.client_context(stranger))
    d.wait_log(r'reason=tls_error error="certificate verify failed: '
               r'(unable to get local issuer certificate|self-signed '
               r'certificate in certificate chain)"$')


def test_an_expired_client_certificate_is_refused():
    late = CA.issue("late", client=True, days=-1)
    d = _tls('tls_client_ca = "%s";\n' % CA.ca.cert)
    _handshake_fails(d, CA.client_context(late))
    d.wait_log(r'reason=tls_error error="certificate verify failed: '
               r'certificate has expired"$')


def test_reload_rotates_the_certificate_for_new_connections_only():
    first, second = CA.issue("localhost"), CA.issue("localhost", days=29)
    assert first.fingerprint() != second.fingerprint()
    d = _tls(pair=first)
    ctx = CA.client_context()
    old = d.connect(tls=ctx)
    seen = old.sock.getpeercert(binary_form=True)
    assert _sha256(seen) == first.fingerprint()
    d.write_config(tls_conf(second))
    assert "configuration reloaded" in d.reload()
    new = d.connect(tls=ctx)
    assert _sha256(new.sock.getpeercert(True)) == second.fingerprint()
    old.send(b"still\n")
    old.expect(b"Hello, still!\n")
    assert _sha256(old.sock.getpeercert(True)) == first.fingerprint()


def test_a_broken_certificate_on_reload_is_logged_and_the_old_one_stays():
    d = _tls()
    broken = os.path.join(scratch_dir(), "broken.pem")
    with open(broken, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64\n"
                "-----END CERTIFICATE-----\n")
    d.write_config(tls_conf(SERVER).replace(SERVER.cert, broken))
    line = d.reload()
    assert re.search(r"error: reload failed, keeping the running "
                     r"configuration: .*tls_certificate: '%s': \S"
                     % re.escape(broken), line), line
    c = d.connect(tls=CA.client_context())
    assert _sha256(c.sock.getpeercert(True)) == SERVER.fingerprint()


def test_a_proxy_header_before_the_handshake():
    d = _tls("proxy_protocol = true;\n")
    c = d.connect(tls=CA.client_context(),
                  before=b"PROXY TCP4 192.0.2.7 192.0.2.1 4242 443\r\n")
    c.send(b"proxied\n")
    c.expect(b"Hello, proxied!\n")
    d.wait_log(r"connection from 192\.0\.2\.7:4242 via 127\.0\.0\.1:\d+$")


def test_access_rules_refuse_before_the_handshake_with_a_clean_close():
    d = _tls('deny = ["127.0.0.0/8"];\n')
    e = _handshake_fails(d, CA.client_context())
    # its ClientHello was read and dropped: an end of stream, no reset
    assert not isinstance(e, ConnectionResetError), repr(e)
    d.wait_log(r"refused 127\.0\.0\.1:\d+ \(denied\)")


def test_replies_held_back_by_a_slow_reader_all_arrive():
    d = _tls('max_output = 4096;\nlog_level = "debug";\n')
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", d.tls_ports["127.0.0.1"]))
    c = Client.__new__(Client)
    c.sock = CA.client_context().wrap_socket(raw, server_hostname="localhost")
    c.timeout = TIMEOUT
    c.expect(b"Welcome!\r\n")
    names = [b"name%05d" % i for i in range(20000)]
    c.send(b"".join(n + b"\n" for n in names))
    d.wait_log(r"not reading: replies waiting")
    c.expect(b"".join(b"Hello, " + n + b"!\n" for n in names), timeout=20)
    d.wait_log(r"reading again: replies waiting")
    c.send(b"exit\n")
    c.expect_eof()
    d.wait_log(r"messages=20000 .* reason=exit$")


def test_the_drain_says_goodbye_over_tls():
    d = _tls()
    c = d.connect(tls=CA.client_context())
    d.signal(signal.SIGTERM)
    c.expect(b"Server shutting down, goodbye\r\n")
    c.expect_eof()
    assert d.wait() == 0


def _activated(conf, first, stop=True):
    """hellod under systemd-socket-activate with one socket named "tls";
    first(port) is the first client, tried until the socket listens; then
    hellod is stopped, or (stop False) left to exit by itself.  Returns
    its exit status, its log and the port."""
    port = free_port()
    proc = subprocess.Popen(
        ["systemd-socket-activate", "-l", "127.0.0.1:%d" % port,
         "--fdname=tls", HELLOD, "-c", _conf_file(conf)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                first(port)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        if stop:
            proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err.decode(), port


def test_socket_activation_passes_a_tls_socket_by_name():
    def session(port):
        c = Client("127.0.0.1", port, tls=CA.client_context())
        c.expect(b"Welcome!\r\n")
        c.send(b"activated\n")
        c.expect(b"Hello, activated!\n")
        c.close()
    code, err, port = _activated(
        'bind = ["127.0.0.1"];\ntls_certificate = "%s";\ntls_key = "%s";\n'
        % (SERVER.cert, SERVER.key), session)
    assert code == 0, err
    assert re.search(r"serving passed socket 'tls' for TLS on 127\.0\.0\.1:%d"
                     % port, err), err


def test_a_passed_tls_socket_needs_a_certificate():
    code, err, _ = _activated(
        'bind = ["127.0.0.1"];\n',
        lambda port: socket.create_connection(("127.0.0.1", port)).close(),
        stop=False)
    assert code == 1, err
    assert re.search(r"the passed socket on 127\.0\.0\.1:\d+ is for TLS, "
                     r"and tls_certificate is not set", err), err


def test_a_stop_during_the_handshake_still_greets_and_says_goodbye():
    d = _tls()
    raw = socket.create_connection(("127.0.0.1", d.tls_ports["127.0.0.1"]))
    d.wait_log(r"connection from")
    d.signal(signal.SIGTERM)
    d.wait_log(r"shutting down, 1 clients to finish")
    c = Client.__new__(Client)
    c.sock = CA.client_context().wrap_socket(raw, server_hostname="localhost")
    c.sock.settimeout(TIMEOUT)
    c.timeout = TIMEOUT
    c.expect(b"Welcome!\r\nServer shutting down, goodbye\r\n")
    c.expect_eof()
    assert d.wait() == 0


def test_idle_time_counts_from_the_welcome_not_the_accept():
    d = _tls("idle_timeout = 1;\n")
    raw = socket.create_connection(("127.0.0.1", d.tls_ports["127.0.0.1"]))
    time.sleep(1.3)  # a slow handshake
    c = Client.__new__(Client)
    c.sock = CA.client_context().wrap_socket(raw, server_hostname="localhost")
    c.timeout = TIMEOUT
    c.expect(b"Welcome!\r\n")
    c.expect_silence(0.6)
    c.expect(b"Error: idle for 1 seconds, goodbye\r\n", timeout=2)


def test_moving_an_address_between_plain_and_tls_takes_a_restart():
    d = _tls()
    plain, tls = d.ports["127.0.0.1"], d.tls_ports["127.0.0.1"]
    d.write_config(tls_conf(SERVER).replace("tls_port = 0;",
                                            "tls_port = %d;" % plain),
                   port=tls)
    line = d.reload()
    assert re.search(r"reload failed, keeping the running configuration: "
                     r"127\.0\.0\.1:(%d|%d) changes between plain and TLS: "
                     r"that takes a restart" % (plain, tls), line), line
    d.connect().close()
    d.connect(tls=CA.client_context()).close()


def _proxy_then_handshake(port, pieces):
    """A PROXY header and the ClientHello, sent in the given pieces (the
    header split across some, the hello in the same write as its end),
    then the rest of the handshake, all over one socket."""
    ctx = CA.client_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    for i, piece in enumerate(pieces):
        sock.sendall(piece + (outgoing.read() if i == len(pieces) - 1
                              else b""))
        time.sleep(0.1)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            if outgoing.pending:
                sock.sendall(outgoing.read())
            data = sock.recv(65536)
            assert data, "closed during the handshake"
            incoming.write(data)
    if outgoing.pending:
        sock.sendall(outgoing.read())
    return sock, tls, incoming, outgoing


def _tls_read(sock, tls, incoming, n):
    got = b""
    while len(got) < n:
        try:
            got += tls.read(n - len(got))
        except ssl.SSLWantReadError:
            data = sock.recv(65536)
            assert data, "closed"
            incoming.write(data)
    return got


def test_a_proxy_header_and_the_client_hello_in_one_write_or_in_pieces():
    header = b"PROXY TCP4 192.0.2.9 192.0.2.1 5151 443\r\n"
    for pieces in ([header], [header[:9], header[9:20], header[20:]]):
        d = _tls("proxy_protocol = true;\n")
        sock, tls, incoming, outgoing = _proxy_then_handshake(
            d.tls_ports["127.0.0.1"], pieces)
        assert _tls_read(sock, tls, incoming, 10) == b"Welcome!\r\n"
        tls.write(b"pieces\n")
        sock.sendall(outgoing.read())
        assert _tls_read(sock, tls, incoming, 15) == b"Hello, pieces!\n"
        d.wait_log(r"connection from 192\.0\.2\.9:5151 via ")
        sock.close()
        d.stop()


def test_a_handshake_sent_byte_by_byte_still_meets_its_timeout():
    d = _tls("tls_handshake_timeout = 1;\n")
    c = Client("127.0.0.1", d.tls_ports["127.0.0.1"])
    started = time.monotonic()
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 32
    for byte in hello:
        try:
            c.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        if time.monotonic() - started > 3:
            raise AssertionError("still open after 3 s")
        time.sleep(0.3)
    d.wait_log(r'error="no TLS handshake in time"$')
    assert time.monotonic() - started < 2.5


def test_a_client_gone_while_replies_wait_is_closed_and_costs_nothing():
    # Replies pile up unread, then the client sends its FIN (no
    # close_notify) and a reset: the write that follows fails, and the
    # connection must close, not spin on a socket that stays writable.
    d = _tls("max_output = 67108864;\n")
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", d.tls_ports["127.0.0.1"]))
    tls = CA.client_context().wrap_socket(raw, server_hostname="localhost")
    tls.settimeout(TIMEOUT)
    assert tls.recv(100) == b"Welcome!\r\n"
    tls.sendall((b"x" * 1000 + b"\n") * 3000)
    time.sleep(0.5)
    plain = socket.socket(fileno=os.dup(tls.fileno()))
    plain.shutdown(socket.SHUT_WR)
    time.sleep(0.3)
    cpu = d.cpu_seconds()
    plain.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
    plain.close()
    tls.close()
    d.wait_log(r"close addr=127\.0\.0\.1 .* reason=error$")
    time.sleep(1)
    assert d.cpu_seconds() - cpu < 0.5, d.cpu_seconds() - cpu


def test_the_tls_port_may_not_be_the_plain_one():
    port = free_port()
    d = Hellod(tls_conf(SERVER, "reuse_port = true;\n").replace(
        "tls_port = 0;", "tls_port = %d;" % port), port=port, start=False)
    d.start(ready=False)
    assert d.wait() == 1
    d.wait_log(r"tls_port: %d is the plain port on 127\.0\.0\.1 too" % port)


def test_a_client_subject_cannot_forge_log_fields():
    forger = CA.issue('x" reason=exit', client=True)
    d = _tls('tls_client_ca = "%s";\n' % CA.ca.cert)
    c = d.connect(tls=CA.client_context(forger))
    c.send(b"exit\n")
    line = d.wait_log(r"reason=exit$")
    assert 'client="/CN=x\\x22 reason=exit" reason=exit' in line, line


# hellod -t names the key and the file that is wrong: (name, conf, error)
BAD_TLS = [
    ("missing certificate",
     'tls_certificate = "/nonexistent/cert.pem";\n',
     r"tls_certificate: '/nonexistent/cert\.pem': No such file or directory"),
    ("a key that is not the certificate's",
     'tls_certificate = "%s";\ntls_key = "%s";\n'
     % (SERVER.cert, CA.issue("other").key),
     r"tls_key: '.*' does not match the certificate in '%s'"
     % re.escape(SERVER.cert)),
    ("no key at all",
     'tls_certificate = "%s";\n' % SERVER.cert,
     r"tls_key \(empty: the key is read from tls_certificate\): '%s' holds "
     r"no private key$" % re.escape(SERVER.cert)),
    ("not a certificate",
     'tls_certificate = "%s";\ntls_key = "%s";\n' % (SERVER.key, SERVER.key),
     r"tls_certificate: '%s': no start line$" % re.escape(SERVER.key)),
    ("a key with a passphrase",
     'tls_certificate = "%s";\ntls_key = "%s";\n'
     % (SERVER.cert, CA.encrypted_key()),
     r"tls_key: '.*' holds a key with a passphrase: hellod needs one "
     r"without"),
    ("a listener without a certificate",
     'tls_bind = ["127.0.0.1"];\n',
     r"tls_bind: TLS listeners need tls_certificate"),
    ("a relative path",
     'tls_certificate = "cert.pem";\n',
     r":\d+: tls_certificate: 'cert\.pem' is not an absolute path"),
    ("a missing client CA",
     'tls_certificate = "%s";\ntls_key = "%s";\n'
     'tls_client_ca = "/nonexistent/ca.pem";\n' % (SERVER.cert, SERVER.key),
     r"tls_client_ca: '/nonexistent/ca\.pem': No such file or directory"),
]


def _conf_file(text):
    path = os.path.join(scratch_dir(), "hellod.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def _bad_tls_test(conf, error):
    def test():
        r = run_hellod("-t", "-c", _conf_file(conf))
        assert r.returncode != 0, r
        err = r.stderr.decode()
        assert len(err.strip().splitlines()) == 1, err
        assert re.search(error, err), err
    return test


for _name, _conf, _error in BAD_TLS:
    globals()["test_hellod_t_" + re.sub(r"\W+", "_", _name)] = \
        _bad_tls_test(_conf, _error)


def _sha256(der):
    import hashlib
    return hashlib.sha256(der).hexdigest()


# The protocol suite's core cases, over TLS (those that keep both
# directions open: a TLS socket cannot half-close).
def _over_tls(steps):
    def test():
        d = _tls()
        converse(d, d.connect(tls=CA.client_context()), steps)
    return test


for _name, _conf, _steps, *_ in CONVERSATIONS[:8]:
    if _conf == "" and not any(s[0] == "shut" for s in _steps):
        globals()["test_over_tls_" + re.sub(r"\W+", "_", _name)] = \
            _over_tls(_steps)


if __name__ == "__main__":
    run(globals())
