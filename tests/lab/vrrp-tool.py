#!/usr/bin/env python3
"""Helpers for tests/lab/vrrp.sh (run inside the lab guest's namespaces).

  serve NAME                  HTTP on :80 (body: NAME) and a line echo on :9000
  client OUT PHASEFILE MODE=URL...
                              one sequential request loop per MODE (a thread
                              each): every request has a 3 s total deadline;
                              a line "PHASE MODE ok|WHY SECONDS ENDED(epoch)" per request
                              in OUT; stops when PHASEFILE says "stop" or at
                              the bounds (requests, seconds)
  hold HOST PORT OUT PHASEFILE
                              one long-lived TCP connection: "ping N" every
                              0.5 s, each echo awaited up to 10 s; a line
                              "PHASE ok|fail SECONDS LOCALPORT" per ping
Every loop is bounded in count and time.
"""
import socket
import sys
import threading
import time

MAX_SECONDS = 600
MAX_REQUESTS = 20000
TIMEOUT = 3.0
INTERVAL = 0.1


def phase(path):
    try:
        with open(path) as f:
            return f.read().strip() or "none"
    except OSError:
        return "none"


def serve(name):
    body = (name + "\n").encode()
    head = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body)

    def http_conn(c):
        with c:
            c.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data and len(data) < 8192:
                    d = c.recv(4096)
                    if not d:
                        return
                    data += d
                c.sendall(head + body)
            except OSError:
                pass

    def echo_conn(c):
        with c:
            c.settimeout(60)
            try:
                for _ in range(100000):
                    d = c.recv(4096)
                    if not d:
                        return
                    c.sendall(d)
            except OSError:
                pass

    def listen(port, handler):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(128)
        while True:
            c, _ = s.accept()
            threading.Thread(target=handler, args=(c,), daemon=True).start()

    threading.Thread(target=listen, args=(9000, echo_conn), daemon=True).start()
    listen(80, http_conn)


def one_request(host, port, path):
    """None when the request succeeded, else why it failed."""
    deadline = time.monotonic() + TIMEOUT
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as s:
            s.sendall(b"GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path.encode(), host.encode()))
            data = b""
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return "timeout"
                s.settimeout(left)
                d = s.recv(4096)
                if not d:
                    break
                data += d
            if data.startswith(b"HTTP/1.0 200") and data.endswith(b"\n"):
                return None
            return "bad-reply"
    except socket.timeout:
        return "timeout"
    except ConnectionResetError:
        return "reset"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return "error-%s" % (e.errno or "x")


def client(out, phasefile, specs):
    lock = threading.Lock()
    f = open(out, "a", buffering=1)
    start = time.monotonic()

    def loop(mode, url):
        # url: http://HOST:PORT/PATH
        rest = url.split("://", 1)[1]
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.partition(":")
        for _ in range(MAX_REQUESTS):
            p = phase(phasefile)
            if p == "stop" or time.monotonic() - start > MAX_SECONDS:
                return
            t0 = time.monotonic()
            err = one_request(host, int(port or 80), "/" + path)
            dt = time.monotonic() - t0
            with lock:
                f.write("%s %s %s %.3f %.3f\n" % (p, mode, err or "ok", dt, time.time()))
            time.sleep(INTERVAL)

    threads = []
    for spec in specs:
        mode, _, url = spec.partition("=")
        t = threading.Thread(target=loop, args=(mode, url), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(MAX_SECONDS + 10)


def hold(host, port, out, phasefile):
    f = open(out, "a", buffering=1)
    start = time.monotonic()
    try:
        s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    except OSError as e:
        f.write("none fail 0 0 connect:%s\n" % e)
        return
    lport = s.getsockname()[1]
    for n in range(2000):
        p = phase(phasefile)
        if p == "stop" or time.monotonic() - start > MAX_SECONDS:
            break
        t0 = time.monotonic()
        msg = b"ping %d\n" % n
        ok = False
        try:
            s.settimeout(10)
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                d = s.recv(4096)
                if not d:
                    break
                got += d
            ok = got == msg
        except OSError:
            ok = False
        f.write("%s %s %.3f %d\n" % (p, "ok" if ok else "fail", time.monotonic() - t0, lport))
        if not ok:
            break
        time.sleep(0.5)
    s.close()


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "serve":
        serve(sys.argv[2])
    elif cmd == "client":
        client(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif cmd == "hold":
        hold(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
