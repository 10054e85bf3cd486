"""The units exactly as `meson install` installs them, started, reloaded,
stopped, activated and restarted by a real systemd running as PID 1 (see
sysboot.py).  Drop-ins only shorten an interval where a test needs it."""

import hashlib
import os
import re
import socket
import ssl
import subprocess
import threading
import time

import sysboot
from hellodtest import TIMEOUT, Client, run

BUILD_ROOT = os.environ["HELLOD_BUILD_ROOT"]
MESON = os.environ.get("HELLOD_MESON", "meson")
CONF = os.path.join(os.environ["HELLOD_SYSCONFDIR"], "hellod", "hellod.conf")
PORT = 9999  # the shipped configuration's, and hellod.socket's
# DynamicUser= takes its uids from this range (systemd.exec(5)).
DYNAMIC_UIDS = range(61184, 65520)



def _installed_tree():
    """hellod as meson install lays it out, to go over the booted root."""
    tree = os.path.join(BUILD_ROOT, "service-tree")
    subprocess.run(["rm", "-rf", tree], check=True)
    subprocess.run([MESON, "install", "-C", BUILD_ROOT, "--destdir", tree,
                    "--no-rebuild", "--quiet"], check=True,
                   capture_output=True, timeout=120)
    return [tree]


def system():
    return sysboot.shared(_installed_tree)


def _status_fields(text):
    return dict(l.split(":", 1) for l in text.splitlines() if ":" in l)


def _restarted(s, unit, old_pid):
    """Waits until unit runs again under a new main process; returns it."""
    def check():
        st = s.show(unit, "ActiveState", "SubState", "MainPID")
        pid = int(st["MainPID"])
        ok = st["SubState"] == "running" and pid not in (0, old_pid)
        return pid if ok else None
    return s.wait_for("%s to run again" % unit, check, timeout=20)


def test_start_is_ready_confined_and_reports_status():
    s = system()
    s.systemctl("start", "hellod")
    # Type=notify: active only on READY=1, which carried the first status
    # text; and since the start has returned, the port takes clients now.
    st = s.show("hellod", "Type", "ActiveState", "SubState", "StatusText")
    assert st == {"Type": "notify", "ActiveState": "active",
                  "SubState": "running",
                  "StatusText": "0 clients, 0 messages served"}, st
    c = s.connect(PORT)
    c.send(b"Michael\n")
    c.expect(b"Hello, Michael!\n")

    status = s.wait_for(
        "the status text to count the client",
        lambda: s.show("hellod", "StatusText")["StatusText"]
        .startswith("1 clients, 1 messages served"))
    assert status

    pid = s.main_pid("hellod")
    fields = _status_fields(s.run("cat", "/proc/%d/status" % pid).stdout)
    uids = [int(u) for u in fields["Uid"].split()]
    assert all(u in DYNAMIC_UIDS for u in uids), fields["Uid"]
    assert fields["NoNewPrivs"].strip() == "1", fields["NoNewPrivs"]
    assert fields["Seccomp"].strip() == "2", fields["Seccomp"]
    assert int(fields["CapEff"], 16) == 0, fields["CapEff"]
    # Even root cannot write there from inside hellod's mount namespace.
    for where in ("/etc", "/usr", "/usr/local/etc/hellod"):
        r = s.run("nsenter", "-t", str(pid), "-m", "--", "touch",
                  where + "/hellod-probe", check=False)
        assert r.returncode != 0 and "Read-only file system" in r.stderr, \
            (where, r.returncode, r.stderr)
    c.close()


def test_reload_applies_a_good_config_and_refuses_a_broken_one():
    s = system()
    shipped = s.run("cat", CONF).stdout
    s.systemctl("restart", "hellod")
    old = s.connect(PORT)
    pid = s.main_pid("hellod")

    s.write(CONF, shipped.replace('welcome = "Welcome!";',
                                  'welcome = "Howdy!";'))
    s.systemctl("reload", "hellod")
    s.connect(PORT, welcome=b"Howdy!\r\n").close()
    old.send(b"Ada\n")
    old.expect(b"Hello, Ada!\n")

    s.write(CONF, shipped + "\nmax_line = -5;\n")
    r = s.systemctl("reload", "hellod", check=False)
    assert r.returncode != 0, r
    st = s.show("hellod", "ActiveState", "SubState", "MainPID")
    assert st == {"ActiveState": "active", "SubState": "running",
                  "MainPID": str(pid)}, st
    s.connect(PORT, welcome=b"Howdy!\r\n").close()
    old.send(b"Grace\n")
    old.expect(b"Hello, Grace!\n")
    old.close()
    s.write(CONF, shipped)


def test_unix_socket_in_the_runtime_directory():
    s = system()
    shipped = s.run("cat", CONF).stdout
    sock = "/run/hellod/hellod.sock"
    s.write(CONF, shipped.replace(
        'bind = [ "127.0.0.1", "::1" ];',
        'bind = [ "127.0.0.1", "unix:%s" ];' % sock))
    try:
        s.systemctl("restart", "hellod")
        pid = s.main_pid("hellod")
        owner = s.run("stat", "-c", "%a %u", sock).stdout.split()
        uid = int(_status_fields(s.run(
            "cat", "/proc/%d/status" % pid).stdout)["Uid"].split()[0])
        assert owner == ["660", str(uid)], (owner, uid)
        r = s.run("socat", "-", "UNIX-CONNECT:" + sock, input="Ada\nexit\n")
        # The output is read as text: CRLF arrives as a newline.
        assert r.stdout == "Welcome!\nHello, Ada!\n", r
        s.systemctl("stop", "hellod")
        assert s.run("test", "-e", sock, check=False).returncode != 0
    finally:
        s.write(CONF, shipped)
        s.systemctl("restart", "hellod")


def _make_certificate(s, folder):
    """A certificate and key made inside the booted system; the key kept
    as Debian keeps keys, root:ssl-cert 0640.  Returns the certificate's
    PEM."""
    key, cert = folder + "/key.pem", folder + "/cert.pem"
    s.run("mkdir", "-p", folder)
    s.run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
          "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
          cert, "-days", "2", "-subj", "/CN=localhost", "-addext",
          "subjectAltName=DNS:localhost")
    s.run("chgrp", "ssl-cert", key)
    s.run("chmod", "0640", key)
    return s.run("cat", cert).stdout


def _tls_fingerprint(s, pem, port=9443):
    ctx = ssl.create_default_context(cadata=pem)
    with s.netns():
        c = Client("127.0.0.1", port, tls=ctx)
    c.expect(b"Welcome!\r\n")
    c.send(b"Ada\n")
    c.expect(b"Hello, Ada!\n")
    der = c.sock.getpeercert(binary_form=True)
    c.close()
    return hashlib.sha256(der).hexdigest()


def test_tls_under_the_hardened_unit_and_a_reload_rotates_it():
    s = system()
    shipped = s.run("cat", CONF).stdout
    folder = "/etc/hellod/tls"
    pem = _make_certificate(s, folder)
    s.drop_in("hellod.service", "tls",
              "[Service]\nSupplementaryGroups=ssl-cert\n")
    s.write(CONF, shipped.replace(
        "tls_bind = [];", 'tls_bind = ["127.0.0.1"];').replace(
        'tls_certificate = "";', 'tls_certificate = "%s/cert.pem";' % folder
    ).replace('tls_key = "";', 'tls_key = "%s/key.pem";' % folder))
    try:
        if s.systemctl("restart", "hellod", check=False).returncode != 0:
            raise AssertionError(s.journal("-u", "hellod", "-n", "8"))
        first = _tls_fingerprint(s, pem)
        assert first == hashlib.sha256(
            ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
        pem = _make_certificate(s, folder)
        s.systemctl("reload", "hellod")
        assert _tls_fingerprint(s, pem) not in (first, None)
        assert "configuration reloaded" in s.journal("-u", "hellod")
    finally:
        s.run("rm", "-rf", folder, "/etc/systemd/system/hellod.service.d/"
              "tls.conf")
        s.systemctl("daemon-reload")
        s.write(CONF, shipped)
        s.systemctl("restart", "hellod")


def test_stop_delivers_every_reply_and_the_goodbye():
    s = system()
    s.systemctl("restart", "hellod")
    with s.netns():
        sock = socket.socket()
    # A small receive window, so the replies wait in hellod, unread.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(TIMEOUT)
    sock.connect(("127.0.0.1", PORT))
    count = 3000
    sock.sendall(b"Michael\n" * count)
    s.wait_for("hellod to read every line", lambda: s.show(
        "hellod", "StatusText")["StatusText"].startswith(
            "1 clients, %d messages" % count))
    started = time.monotonic()
    stop = threading.Thread(target=s.systemctl, args=("stop", "hellod"))
    stop.start()
    want = (b"Welcome!\r\n" + b"Hello, Michael!\n" * count
            + b"Server shutting down, goodbye\r\n")
    got = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    sock.close()
    stop.join(30)
    took = time.monotonic() - started
    assert got == want, (len(got), len(want), got[-80:])
    st = s.show("hellod", "ActiveState", "Result")
    assert st == {"ActiveState": "inactive", "Result": "success"}, st
    assert took < 10, took  # TimeoutStopSec is 15 s


def _signalled_back(s, sig):
    """Sends sig to hellod's main process, waits until systemd has a new
    one serving, and returns the unit's journal."""
    s.systemctl("restart", "hellod")
    pid = s.main_pid("hellod")
    s.systemctl("kill", "--kill-whom=main", "--signal=" + sig, "hellod")
    _restarted(s, "hellod", pid)
    s.connect(PORT).close()
    return s.journal("-u", "hellod", "-o", "cat")


def test_watchdog_restarts_a_stopped_process():
    s = system()
    s.drop_in("hellod.service", "watchdog", "[Service]\nWatchdogSec=2s\n")
    try:
        log = _signalled_back(s, "SIGSTOP")
        assert "Watchdog timeout" in log, log
    finally:
        s.run("rm", "-r", "/etc/systemd/system/hellod.service.d")
        s.systemctl("daemon-reload")


def test_a_crashed_process_is_restarted_and_the_journal_says_why():
    log = _signalled_back(system(), "SIGSEGV")
    assert re.search(r"Main process exited, code=(killed|dumped), "
                     r"status=11/SEGV", log), log
    assert "Scheduled restart job" in log, log


def test_socket_activation_starts_on_the_first_connection():
    s = system()
    s.systemctl("start", "hellod")
    # Conflicts=: hellod.service goes, and lets go of the port first.
    s.systemctl("start", "hellod.socket")
    assert s.show("hellod", "ActiveState")["ActiveState"] == "inactive"
    time.sleep(0.3)
    st = s.show("hellod-activated", "ActiveState")
    assert st["ActiveState"] == "inactive", st
    c = s.connect(PORT)
    c.send(b"Michael\n")
    c.expect(b"Hello, Michael!\n")
    assert s.show("hellod-activated", "ActiveState")["ActiveState"] == \
        "active"
    c.close()


def test_restart_under_socket_activation_serves_every_session():
    s = system()
    s.systemctl("start", "hellod.socket")
    s.connect(PORT).close()
    pid = s.main_pid("hellod-activated")
    results = {"welcomed": 0, "failed": []}
    done = threading.Event()

    def clients():
        deadline = time.monotonic() + 15
        n = 0
        while not done.is_set() and n < 3000 and time.monotonic() < deadline:
            n += 1
            try:
                c = s.connect(PORT)
                time.sleep(0.002)  # it thinks, then speaks
                c.send(b"s%d\n" % n)
                c.expect(b"Hello, s%d!\n" % n)
                c.close()
                results["welcomed"] += 1
            except (OSError, AssertionError) as e:
                results["failed"].append(repr(e))
            time.sleep(0.003)

    loop = threading.Thread(target=clients)
    began = time.monotonic()
    loop.start()
    time.sleep(0.5)
    s.systemctl("restart", "hellod-activated")
    _restarted(s, "hellod-activated", pid)
    s.wait_for("sessions after the restart",
               lambda: results["welcomed"] >= 300 or not loop.is_alive(),
               timeout=15)
    done.set()
    loop.join(30)
    print("# %d sessions welcomed and answered in %.1f s across the restart"
          % (results["welcomed"], time.monotonic() - began))
    assert not results["failed"], results["failed"][:5]
    assert results["welcomed"] >= 300, results


def test_journal_keeps_priorities():
    s = system()
    # From the socket-activated setup straight to hellod.service.
    s.systemctl("start", "hellod")
    for unit in ("hellod.socket", "hellod-activated"):
        assert s.show(unit, "ActiveState")["ActiveState"] == "inactive", unit
    s.connect(PORT).close()
    shipped = s.run("cat", CONF).stdout
    # A broken file, signalled past ExecReload's check: hellod itself
    # says the reload failed.
    s.write(CONF, shipped + "\nmax_line = -5;\n")
    s.systemctl("kill", "--kill-whom=main", "--signal=SIGHUP", "hellod")
    s.wait_for("the failed reload in the journal", lambda: "reload failed"
               in s.journal("-u", "hellod", "-p", "warning", "-o", "cat"))
    s.write(CONF, shipped)
    warnings = s.journal("-u", "hellod", "-p", "warning", "-o", "cat")
    everything = s.journal("-u", "hellod", "-o", "cat")
    assert "connection from" in everything, everything
    assert "connection from" not in warnings, warnings
    assert " ready (" not in warnings, warnings


def _exposure(text):
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d)", text)
    assert m, text
    return m.group(1)


def test_security_score_matches_the_offline_one():
    s = system()
    for unit in ("hellod.service", "hellod-activated.service"):
        online = s.run("systemd-analyze", "security", "--no-pager", unit,
                       check=False)
        path = s.run("systemctl", "show", "-P", "FragmentPath",
                     unit).stdout.strip()
        offline = s.run("systemd-analyze", "security", "--no-pager",
                        "--offline=true", path, check=False)
        assert _exposure(online.stdout) == _exposure(offline.stdout), \
            (unit, online.stdout[-300:], offline.stdout[-300:])


def test_the_host_keeps_its_tmp_and_has_no_hellod_unit():
    s = system()
    s.shutdown()  # fails if the marker it left in the host's /tmp is gone
    assert not sysboot.host_units(), sysboot.host_units()


if __name__ == "__main__":
    run(globals())
