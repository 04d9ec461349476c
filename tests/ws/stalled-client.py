#!/usr/bin/env python3
"""A WebSocket client that stops reading: it completes the handshake with a
4 KiB receive buffer (so the kernel cannot soak up the stream for minutes)
and then reads nothing for SECONDS.  Usage: stalled-client.py PORT SECONDS"""
import base64
import os
import socket
import sys
import time

port, seconds = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((f"GET /stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
           f"Origin: http://127.0.0.1:{port}\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
reply = s.recv(12)
print(reply.decode(errors="replace"), flush=True)
time.sleep(seconds)
