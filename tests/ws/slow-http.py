#!/usr/bin/env python3
"""Slow HTTP clients (slowloris): COUNT connections to 127.0.0.1:PORT, made
from the SOURCES addresses in turn (any of 127.0.0.0/8 on Linux), each of
which sends a request line and then one header line every EVERY seconds,
never the blank line that ends the head.  After HOLD seconds it prints one
JSON object: how many connections were accepted and still open after the
first second ("held_at_1s"), how many the server closed ("closed"), and for
each closed one how many seconds after it was made ("closed_after").  It
stops early once the server has closed every connection.

Usage: slow-http.py PORT COUNT SOURCES EVERY HOLD
       (SOURCES comma-separated, e.g. 127.0.0.2,127.0.0.3)"""
import json
import resource
import select
import socket
import sys
import time

port, count = int(sys.argv[1]), int(sys.argv[2])
sources = sys.argv[3].split(",")
every, hold = float(sys.argv[4]), float(sys.argv[5])

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

conns = []                                      # [socket, made_at, closed_at]
for i in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((sources[i % len(sources)], 0))
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    conns.append([s, time.monotonic(), None])

start = time.monotonic()
next_line = start
held_at_1s = None
sent_request = set()
poller = select.poll()                          # select() stops at 1024 descriptors
by_fd = {}
for c in conns:
    poller.register(c[0], select.POLLIN)
    by_fd[c[0].fileno()] = c


def close_seen(c, at):
    c[2] = at
    poller.unregister(c[0])


while time.monotonic() - start < hold:
    now = time.monotonic()
    if all(c[2] is not None for c in conns):
        break
    if held_at_1s is None and now - start >= 1:
        held_at_1s = sum(1 for c in conns if c[2] is None)
    if now >= next_line:
        for i, c in enumerate(conns):
            if c[2] is not None:
                continue
            line = b"X-Slow: 1\r\n" if i in sent_request else b"GET /api/status HTTP/1.1\r\nHost: x\r\n"
            try:
                c[0].send(line)
                sent_request.add(i)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                close_seen(c, now)
        next_line = now + every
    for fd, _ in poller.poll(50):
        c = by_fd[fd]
        if c[2] is not None:
            continue
        try:
            data = c[0].recv(4096)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            data = b""
        if not data:
            close_seen(c, time.monotonic())
if held_at_1s is None:
    held_at_1s = sum(1 for c in conns if c[2] is None)
closed = [round(c[2] - c[1], 2) for c in conns if c[2] is not None]
print(json.dumps({"held_at_1s": held_at_1s, "closed": len(closed), "closed_after": closed}))
for c in conns:
    c[0].close()
