"""No deadline comes due early: each is measured from the client's side,
from the event it counts from to what hellod then does, over several
clients whose deadlines fall at different points of the server's clock
tick.  A deadline may be late by its documented slack, never early."""

import threading
import time

from hellodtest import Hellod, SLOWDOWN, TIMEOUT, run

SAMPLES = 8
# Clients start this far apart, so each idle deadline gets a pass of the
# loop's idle timer of its own (passes come at most 0.25 s apart).
STAGGER = 0.3
IDLE_SLACK = 0.25  # the idle timer's pass interval, hellod.conf(5)
SLACK = 0.15  # scheduling on a loaded machine


def _idle(c):
    started = time.monotonic()
    c.expect(b"Welcome!\r\n")
    return started


def _fragment(c):
    c.expect(b"Welcome!\r\n")
    started = time.monotonic()
    c.send(b"Michael")
    return started


def _unfinished_line(c):
    c.expect(b"Welcome!\r\n")
    c.send(b"first\n")
    c.expect(b"Hello, first!\n")
    started = time.monotonic()
    c.send(b"z")
    return started


def _proxy_header(c):
    return time.monotonic()


# Config, what starts the clock (connect() has returned before it is
# called), what hellod must send then, whether it then closes, the
# configured time and the slack.
CASES = [
    ("idle", "idle_timeout = 1;\n", _idle,
     b"Error: idle for 1 seconds, goodbye\r\n", True, 1.0,
     IDLE_SLACK + SLACK),
    ("fragment", "fragment_delay_ms = 200;\n", _fragment,
     b"Hello, Michael!", False, 0.2, SLACK),
    ("line", "line_timeout = 1;\n", _unfinished_line,
     b"Error: line not finished within 1 seconds, goodbye\r\n", True, 1.0,
     SLACK),
    ("proxy", "proxy_protocol = true;\nproxy_timeout = 1;\n", _proxy_header,
     b"", True, 1.0, SLACK),
]


def _sample(d, start, want, closes, out):
    """One client: the seconds from start(c) until want has arrived, and
    with closes the end of the stream too (or a reset, where hellod sends
    nothing)."""
    c = d.connect(welcome=None, timeout=TIMEOUT * SLOWDOWN)
    started = start(c)
    got = c.recv_exact(len(want)) if want else b""
    if closes:
        try:
            got += c.sock.recv(100)
        except ConnectionResetError:
            pass
    out.append((time.monotonic() - started, got))
    c.close()


def _check(name, conf, start, want, closes, seconds, slack):
    d = Hellod(conf)
    out, threads = [], []
    for _ in range(SAMPLES):
        t = threading.Thread(target=_sample, args=(d, start, want, closes, out))
        t.start()
        threads.append(t)
        time.sleep(STAGGER)
    for t in threads:
        t.join(TIMEOUT * SLOWDOWN + seconds)
    assert len(out) == SAMPLES, out
    early = [s for s, _ in out if s < seconds]
    late = [s for s, _ in out if s > seconds + slack * SLOWDOWN]
    wrong = [g for _, g in out if g != want]
    print("# %s: %s" % (name, " ".join("%.4f" % s for s, _ in sorted(out))))
    assert not wrong, (name, wrong)
    assert not early, "%s came due early: %s s, configured %.3f s" % (
        name, early, seconds)
    assert not late, "%s came due late: %s s" % (name, late)


for _case in CASES:
    globals()["test_%s_deadline_comes_due_no_earlier" % _case[0]] = (
        lambda case=_case: _check(*case))


if __name__ == "__main__":
    run(globals())
