"""UNIX-socket listeners: real clients (nc -U, socat), the socket file's
mode and group, stale and live files, removal on exit and rebind, peer
credentials in the log, socket activation, and the protocol's core cases
over a UNIX socket."""

import grp
import os
import re
import signal
import socket
import stat
import subprocess
import time

from hellodtest import (Client, Hellod, TIMEOUT, HELLOD, converse, run,
                        run_hellod, scratch_dir)
from test_protocol import CONVERSATIONS

SESSION_IN = b"bob\nexit\n"
SESSION_OUT = b"Welcome!\r\nHello, bob!\n"


def _path(name="hellod.sock"):
    return os.path.join(scratch_dir("hellod-unix-"), name)


def _unix(path, conf=""):
    return Hellod(conf, bind=("127.0.0.1", "unix:" + path))


def _tool(argv, data=SESSION_IN):
    r = subprocess.run(argv, input=data, capture_output=True,
                       timeout=TIMEOUT)
    assert r.returncode == 0, r
    return r.stdout


def test_nc_and_socat_are_served_and_logged_by_credentials():
    path = _path()
    d = _unix(path)
    assert _tool(["nc", "-U", path]) == SESSION_OUT
    assert _tool(["socat", "-", "UNIX-CONNECT:" + path]) == SESSION_OUT
    d.wait_log(r"info: listening on unix:%s$" % re.escape(path))
    d.wait_log(r"connection from unix pid=\d+ uid=%d$" % os.getuid(),
               count=2)
    d.wait_log(r"close addr=unix pid=\d+ uid=%d duration=\S+ messages=1 "
               r"bytes_in=9 bytes_out=22 reason=exit$" % os.getuid(), count=2)


def test_abstract_name_is_served():
    name = "hellod-test-%d" % os.getpid()
    d = Hellod(bind=("unix:@" + name,))
    assert _tool(["socat", "-", "ABSTRACT-CONNECT:" + name]) == SESSION_OUT
    d.wait_log(r"listening on unix:@%s$" % name)


def test_file_gets_mode_and_group_before_anyone_connects():
    path = _path()
    group = grp.getgrgid(os.getgid() if os.getgid() != 0 else 1)
    _unix(path, 'unix_mode = "0640";\nunix_group = "%s";\n' % group.gr_name)
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o640, oct(st.st_mode)
    assert st.st_gid == group.gr_gid, st


def test_stale_file_is_replaced():
    path = _path()
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(path)
    dead.close()  # the file stays, nobody listens: a crashed run's leftover
    d = _unix(path)
    d.wait_log(r"warning: removed the stale socket file %s$"
               % re.escape(path))
    assert _tool(["nc", "-U", path]) == SESSION_OUT


def test_live_file_is_in_use():
    path = _path()
    live = socket.socket(socket.AF_UNIX)
    live.bind(path)
    live.listen()
    folder = os.path.dirname(path)
    conf = os.path.join(folder, "hellod.conf")
    with open(conf, "w") as f:
        f.write('bind = ["unix:%s"];\n' % path)
    r = run_hellod("-c", conf)
    live.close()
    assert r.returncode == 1, r
    assert re.search(r"error: cannot listen on unix:%s: Address already in "
                     r"use \(a running server answers on it\)\n$"
                     % re.escape(path), r.stderr.decode()), r.stderr
    assert os.path.exists(path), "the live server's file was removed"


def test_file_goes_on_exit_and_on_rebind():
    path, other = _path(), _path("other.sock")
    d = _unix(path)
    assert os.path.exists(path)
    d.write_config(port=d.port, bind=("127.0.0.1", "unix:" + other))
    assert "configuration reloaded" in d.reload()
    assert not os.path.exists(path) and os.path.exists(other)
    assert _tool(["nc", "-U", other]) == SESSION_OUT
    d.signal(signal.SIGTERM)
    assert d.wait() == 0
    assert not os.path.exists(other)


def test_bad_unix_entries_are_named():
    for entry, why in [
            ("unix:relative.sock", "is not a UNIX socket"),
            ("unix:/" + "x" * 120, "is not a UNIX socket"),
            ("unix:", "is not a UNIX socket")]:
        folder = scratch_dir("hellod-unix-")
        conf = os.path.join(folder, "hellod.conf")
        with open(conf, "w") as f:
            f.write('bind = ["%s"];\nunix_mode = "0660";\n' % entry)
        r = run_hellod("-t", "-c", conf)
        assert r.returncode == 1 and why in r.stderr.decode(), r
    with open(conf, "w") as f:
        f.write('unix_mode = "0999";\n')
    r = run_hellod("-t", "-c", conf)
    assert r.returncode == 1, r
    assert ":1: unix_mode: '0999' is not a file mode" in r.stderr.decode()


def test_address_rules_and_limits_do_not_apply():
    path = _path()
    _unix(path, 'deny = ["0.0.0.0/0", "::/0"];\nallow = ["192.0.2.1"];\n'
          'max_clients_per_ip = 1;\nconnection_rate = 1;\n'
          'connection_burst = 1;\n')
    clients = [Client("unix:" + path) for _ in range(3)]
    for c in clients:
        c.expect(b"Welcome!\r\n")
        c.close()


def test_proxy_header_over_a_unix_socket():
    path = _path()
    d = _unix(path, 'proxy_protocol = true;\nproxy_trusted = [];\n')
    c = Client("unix:" + path)
    c.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 9999\r\nann\n")
    c.expect(b"Welcome!\r\nHello, ann!\n")
    d.wait_log(r"connection from 192\.0\.2\.7:40000 via unix$")
    c.close()
    d.wait_log(r"close addr=192\.0\.2\.7 port=40000 .*reason=eof$")


def test_passed_unix_socket_is_served_and_left_in_place():
    path = _path()
    folder = os.path.dirname(path)
    conf = os.path.join(folder, "hellod.conf")
    with open(conf, "w") as f:
        f.write('bind = ["127.0.0.1"];\nport = 0;\n')
    proc = subprocess.Popen(
        ["systemd-socket-activate", "-l", path, HELLOD, "-c", conf],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _tool(["socat", "-", "UNIX-CONNECT:" + path]) == SESSION_OUT
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=TIMEOUT)
    assert re.search(r"serving passed socket '\S+' on unix:%s"
                     % re.escape(path), err.decode()), err


def _core(name, conf, steps):
    def test():
        path = _path()
        d = _unix(path, conf)
        c = Client("unix:" + path)
        c.expect(b"Welcome!\r\n")
        converse(d, c, [s for s in steps if s[0] != "log"])
    return test


for _name, _conf, _steps, *_ in CONVERSATIONS[:8]:
    globals()["test_over_unix_" + re.sub(r"\W+", "_", _name)] = \
        _core(_name, _conf, _steps)


if __name__ == "__main__":
    run(globals())
