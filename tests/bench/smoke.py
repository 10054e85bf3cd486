#!/usr/bin/env python3
"""bench_smoke: the benchmark's tools are correct before their numbers count.

usage: smoke.py LOADGEN BASELINE HELLOD TLSGEN

Runs the load generator for about a second in scenarios A and D against the
baseline server and against hellod (it verifies every reply), the TLS one
in each of its modes against hellod's TLS listener, checks the baseline's
protocol corners by hand, and checks that the generator fails on a wrong
reply.  Prints TAP.
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

LOADGEN, BASELINE, HELLOD, TLSGEN = sys.argv[1:5]
LISTENING = re.compile(rb"listening on 127\.0\.0\.1:(\d+)")
TLS_LISTENING = re.compile(rb"listening for TLS on 127\.0\.0\.1:(\d+)")
results = []


def check(name, fn):
    try:
        fn()
        results.append((True, name, ""))
    except Exception as e:  # a failed check is a TAP line, not a crash
        results.append((False, name, str(e)))


def wait_port(proc, path, pattern=LISTENING):
    """The port a server logged into path; bounded by a 10 s deadline."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(path, "rb") as f:
            m = pattern.search(f.read())
        if m:
            return int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    raise RuntimeError(f"{path}: no 'listening on' line")


def start(argv, tmp, name, pattern=LISTENING):
    log = os.path.join(tmp, name + ".log")
    with open(log, "wb") as f:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=f)
    return proc, wait_port(proc, log, pattern)


def tls_conf(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True, timeout=30)
    conf = os.path.join(tmp, "hellod-tls.conf")
    with open(conf, "w") as f:
        f.write('port = 0;\nbind = ["127.0.0.1"];\ntls_bind = ["127.0.0.1"];\n'
                f'tls_port = 0;\ntls_certificate = "{cert}";\n'
                f'tls_key = "{key}";\n')
    return conf


def tlsgen(port, pid, mode):
    r = subprocess.run([TLSGEN, "-p", str(port), "-P", str(pid), "-m", mode,
                        "-c", "20", "-w", "0.2", "-t", "0.5"],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"tlsgen {mode}: {r.stderr.strip()}")
    done = re.search(r'"(replies|sessions|rss_after)": (\d+)', r.stdout)
    if mode != "idle" and not re.search(r'"(replies|sessions)": [1-9]',
                                        r.stdout) or not done:
        raise RuntimeError(f"tlsgen {mode}: nothing done: {r.stdout}")


def loadgen(port, pid, scenario, *extra):
    r = subprocess.run([LOADGEN, "-p", str(port), "-P", str(pid), "-s",
                        scenario, "-w", "0.2", "-t", "1", *extra],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip() or f"exit {r.returncode}")
    if "every reply verified" not in r.stdout:
        raise RuntimeError("no verified replies: " + r.stdout.strip())


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_all(s):
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def read_exactly(s, n):
    out = bytearray()
    while len(out) < n:
        chunk = s.recv(min(n - len(out), 1 << 20))
        if not chunk:
            raise RuntimeError(f"closed after {len(out)} of {n} bytes")
        out += chunk
    return bytes(out)


def expect(got, want):
    if got != want:
        raise RuntimeError(f"expected {want!r}, got {got!r}")


def baseline_protocol(port):
    with connect(port) as s:
        for part in (b"Mic", b"hael\nTr", b"acy\r\n\n \t\nA\nB\nexit\nC\n"):
            s.sendall(part)
            time.sleep(0.05)
        expect(read_all(s), b"Welcome!\r\nHello, Michael!\nHello, Tracy!\r\n"
               b"Hello, A!\nHello, B!\n")


def baseline_eof(port):
    with connect(port) as s:
        s.sendall(b"one\ntwo\n")
        s.shutdown(socket.SHUT_WR)
        expect(read_all(s), b"Welcome!\r\nHello, one!\nHello, two!\n")


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) * 1024


def baseline_backpressure(port, pid):
    """A client that sends 10 MiB worth of replies and reads none of them
    must not make the server hold them, nor keep others waiting."""
    lines = 1 << 20
    before = rss(pid)
    with connect(port) as flood:
        expect(read_exactly(flood, 10), b"Welcome!\r\n")
        flood.settimeout(30)
        sender = threading.Thread(
            target=lambda: flood.sendall(b"x\n" * lines), daemon=True)
        sender.start()
        time.sleep(0.5)
        grown = rss(pid) - before
        if grown > 4 << 20:
            raise RuntimeError(f"RSS grew by {grown} bytes")
        with connect(port) as other:
            other.sendall(b"other\n")
            expect(read_exactly(other, 24), b"Welcome!\r\nHello, other!\n")
        want = b"Hello, x!\n" * lines
        expect(read_exactly(flood, len(want)) == want, True)
        sender.join(10)


def fake_server(listener):
    """Welcomes, then answers the first message wrongly."""
    conn, _ = listener.accept()
    with conn:
        conn.sendall(b"Welcome!\r\n")
        conn.recv(100)
        conn.sendall(b"Hello, someone else!\n")
        time.sleep(1)


def loadgen_rejects_wrong_reply():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        t = threading.Thread(target=fake_server, args=(listener,),
                             daemon=True)
        t.start()
        r = subprocess.run([LOADGEN, "-p", str(listener.getsockname()[1]),
                            "-c", "1", "-w", "0", "-t", "0.5"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 1 or "expected" not in r.stderr:
            raise RuntimeError(f"exit {r.returncode}: {r.stderr.strip()}")


def main():
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "hellod.conf")
        with open(conf, "w") as f:
            f.write('port = 0;\nbind = ["127.0.0.1"];\n')
        try:
            base, bport = start([BASELINE], tmp, "baseline")
            procs.append(base)
            hellod, hport = start([HELLOD, "-c", conf], tmp, "hellod")
            procs.append(hellod)
            for scenario in "AD":
                check(f"scenario {scenario} against the baseline",
                      lambda: loadgen(bport, base.pid, scenario))
                check(f"scenario {scenario} against hellod",
                      lambda: loadgen(hport, hellod.pid, scenario))
            check("baseline: split lines, CRLF, blank lines, pipelining, "
                  "exit", lambda: baseline_protocol(bport))
            check("baseline: EOF closes after every reply",
                  lambda: baseline_eof(bport))
            check("baseline: backpressure on a client that does not read",
                  lambda: baseline_backpressure(bport, base.pid))
            check("loadgen: a wrong reply fails the run",
                  loadgen_rejects_wrong_reply)
            tls, tport = start([HELLOD, "-c", tls_conf(tmp)], tmp,
                               "hellod-tls", TLS_LISTENING)
            procs.append(tls)
            for mode in ("ping", "churn", "idle"):
                check(f"tlsgen {mode} against hellod's TLS",
                      lambda: tlsgen(tport, tls.pid, mode))
        finally:
            for p in procs:
                p.terminate()
                p.wait(10)
    print(f"1..{len(results)}")
    for i, (ok, name, why) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
        for line in why.splitlines():
            print(f"# {line}")


main()
