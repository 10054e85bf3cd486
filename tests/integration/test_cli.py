"""The command line: -t, -p, -V, -h, bad options and start-up failures."""

import os
import socket
import subprocess
import tempfile

from hellodtest import HELLOD, Hellod, free_port, run_hellod, run


def _conf(text):
    fd, path = tempfile.mkstemp(suffix=".conf")
    os.write(fd, text.encode())
    os.close(fd)
    return path


def test_t_accepts_good_config():
    path = _conf('port = 4000;\nreply = "Hi %s";\n')
    r = run_hellod("-t", "-c", path)
    os.unlink(path)
    assert r.returncode == 0, r
    assert r.stdout == b"hellod: %s: configuration is valid\n" % path.encode()


def test_t_refuses_bad_config_with_file_line_key():
    path = _conf("port = 9999;\n\nbacklog = 0;\n")
    r = run_hellod("--test-config", "--config", path)
    os.unlink(path)
    assert r.returncode == 1, r
    assert r.stderr == (b"hellod: %s:3: backlog: 0 is out of range "
                        b"(1 to 65535)\n" % path.encode()), r.stderr


def test_bad_config_refused_before_binding():
    port = free_port()
    path = _conf('port = %d;\nbind = ["127.0.0.1"];\nwelcome = 5;\n' % port)
    r = run_hellod("-c", path)
    os.unlink(path)
    assert r.returncode == 1, r
    assert b":3: welcome: expected a string, got an integer" in r.stderr
    assert r.stderr.count(b"\n") == 1, r.stderr
    assert b"listening" not in r.stderr


BAD_CONFIGS = [
    ("port = ;\n", 1, "syntax error (at 'port')"),
    ("port = 1;\nport = 2;\n", 2, "duplicate setting name (at 'port')"),
    ('max_line = "long";\n', 1, "max_line: expected an integer, got a string"),
    ("welcome = 5;\n", 1, "welcome: expected a string, got an integer"),
    ('bind = "127.0.0.1";\n', 1, "bind: expected a list like"),
    ("port = 4294975073;\n", 1,
     "port: 4294975073 is out of range (0 to 65535)"),
    ("max_clients = 99999999999999999999;\n", 1,
     "max_clients: the number is too large (allowed: 1 to 1000000)"),
    ("idle_timeout = -1;\n", 1, "idle_timeout: -1 is out of range"),
    ("max_output = 0;\n", 1, "max_output: 0 is out of range"),
    ("backlog = 0;\n", 1, "backlog: 0 is out of range (1 to 65535)"),
    ("\nmax_clients = 0;\n", 2, "max_clients: 0 is out of range"),
    ("port = 65536;\n", 1, "port: 65536 is out of range (0 to 65535)"),
    ("write_timeout = 86401;\n", 1, "write_timeout: 86401 is out of range"),
    ('reply = "%d %s";\n', 1, "reply: '%d' is not allowed"),
    ('framing = "tcp";\n', 1, "framing: 'tcp' is not one of"),
    ("colour = 1;\n", 1, "colour: unknown key"),
]


def test_bad_config_matrix_is_refused_before_binding():
    port = free_port()
    for text, line, why in BAD_CONFIGS:
        path = _conf(text)
        r = run_hellod("-c", path, "-p", str(port))
        os.unlink(path)
        assert r.returncode == 1, (text, r)
        want = b"hellod: %s:%d: %s" % (path.encode(), line, why.encode())
        assert r.stderr.startswith(want), (text, r.stderr)
        assert r.stderr.count(b"\n") == 1, r.stderr
    with socket.socket() as s:  # nothing was left bound
        s.bind(("127.0.0.1", port))


def test_unreadable_config_file():
    path = _conf("port = 1;\n")
    os.chmod(path, 0)
    cmd = [HELLOD, "-t", "-c", path]
    if os.geteuid() == 0:
        # root reads anything: take away the capabilities that let it.
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] + cmd
    r = subprocess.run(cmd, capture_output=True, timeout=5)
    os.unlink(path)
    assert r.returncode == 1, r
    assert r.stderr == (b"hellod: %s: cannot open: Permission denied\n"
                        % path.encode()), r.stderr


def test_missing_config_file():
    r = run_hellod("-t", "-c", "/nonexistent/hellod.conf")
    assert r.returncode == 1
    assert r.stderr == (b"hellod: /nonexistent/hellod.conf: cannot open: "
                        b"No such file or directory\n"), r.stderr


def test_p_overrides_the_file_port():
    port = free_port()
    d = Hellod(port=1, args=["-p", str(port)])
    assert d.port == port
    c = d.connect()
    c.send(b"x\n")
    c.expect(b"Hello, x!\n")


def test_port_in_use_is_one_clear_line():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    d = Hellod(port=port, start=False)
    d.start(ready=False)
    assert d.wait() == 1
    errors = d.log_lines(r"error:")
    assert len(errors) == 1, d.log_text()
    assert ("cannot listen on 127.0.0.1:%d: Address already in use" % port
            in errors[0]), errors
    holder.close()


def test_address_not_available():
    d = Hellod(bind=("192.0.2.1",), start=False)
    d.start(ready=False)
    assert d.wait() == 1
    assert d.log_lines(r"error: cannot listen on 192\.0\.2\.1:\d+: Cannot "
                       r"assign requested address"), d.log_text()


def test_version_and_help():
    r = run_hellod("-V")
    assert r.returncode == 0 and r.stdout.startswith(b"hellod ")
    r = run_hellod("--help")
    assert r.returncode == 0 and b"--test-config" in r.stdout


def test_bad_command_lines():
    for args, msg in ((["--bogus"], b"unknown option '--bogus'"),
                      (["-p", "http"], b"'http' is not a port number"),
                      (["-p", "65536"], b"'65536' is not a port number"),
                      (["-c"], b"-c needs an argument"),
                      (["extra"], b"unexpected argument 'extra'")):
        r = run_hellod(*args)
        assert r.returncode == 2, (args, r)
        assert msg in r.stderr and r.stderr.count(b"\n") == 1, r.stderr


if __name__ == "__main__":
    run(globals())
