"""The command line: -t, -p, -V, -h, bad options and start-up failures."""

import os
import socket
import tempfile

from hellodtest import Hellod, free_port, run_hellod, run


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
