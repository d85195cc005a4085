#!/usr/bin/env python3
"""Mock AWS IMDSv2 for the VM test (Python 3 standard library only).

Serves files from a directory tree shaped like the IMDS paths:
    TREE/latest/meta-data/hostname
    TREE/latest/meta-data/public-keys/_index      (listing of the directory)
    TREE/latest/meta-data/public-keys/0/openssh-key
    TREE/latest/user-data
A directory is answered with its _index file (what IMDS lists there).

Like the real service it demands IMDSv2: PUT /latest/api/token with
X-aws-ec2-metadata-token-ttl-seconds (1..21600) returns a token, and every
GET must carry X-aws-ec2-metadata-token with a token it handed out (else
401). Tokens and a request log live in TREE/../state/ so that the
per-connection processes share them.

Two ways to run:
  imds-mock.py --inetd TREE     one connection on stdin/stdout; this is what
                                QEMU's guestfwd=...-cmd:... starts for each
                                guest connection (no host port needed)
  imds-mock.py --listen PORT TREE   an ordinary loopback server (debugging)
"""

import http.server
import os
import secrets
import sys
import time

MAX_TTL = 21600


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "imds-mock"
    tree = "."

    def setup(self):
        if self.request is None:  # --inetd: the connection is stdin/stdout
            self.rfile = sys.stdin.buffer
            self.wfile = sys.stdout.buffer
        else:
            super().setup()

    def log_message(self, fmt, *args):
        state = state_dir(self.tree)
        with open(os.path.join(state, "requests.log"), "a") as f:
            f.write("%.3f %s\n" % (time.time(), fmt % args))

    def reply(self, code, body=b"", ctype="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def tokens_file(self):
        return os.path.join(state_dir(self.tree), "tokens")

    def do_PUT(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path != "/latest/api/token":
            return self.reply(404, b"not found\n")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= MAX_TTL:
            return self.reply(400, b"missing or invalid token TTL\n")
        token = secrets.token_urlsafe(32)
        with open(self.tokens_file(), "a") as f:
            f.write("%s %d\n" % (token, time.time() + int(ttl)))
        self.reply(200, token.encode())

    def token_ok(self):
        token = self.headers.get("X-aws-ec2-metadata-token")
        if not token:
            return False
        try:
            with open(self.tokens_file()) as f:
                for line in f:
                    known, expiry = line.split()
                    if known == token and time.time() < float(expiry):
                        return True
        except FileNotFoundError:
            pass
        return False

    def do_GET(self):
        if not self.token_ok():
            return self.reply(401, b"unauthorized\n")
        rel = self.path.split("?", 1)[0].lstrip("/")
        parts = [p for p in rel.split("/") if p]
        if any(p in (".", "..") or p.startswith("_") for p in parts):
            return self.reply(404, b"not found\n")
        path = os.path.join(self.tree, *parts)
        if os.path.isdir(path):
            path = os.path.join(path, "_index")
        try:
            with open(path, "rb") as f:
                body = f.read()
        except (FileNotFoundError, NotADirectoryError):
            return self.reply(404, b"not found\n")
        self.reply(200, body, "application/octet-stream")

    do_HEAD = do_GET


def state_dir(tree):
    d = os.path.join(os.path.dirname(os.path.abspath(tree)), "state")
    os.makedirs(d, exist_ok=True)
    return d


def main(argv):
    if len(argv) == 3 and argv[1] == "--inetd":
        Handler.tree = argv[2]
        Handler(None, ("guest", 0), None)
        return 0
    if len(argv) == 4 and argv[1] == "--listen":
        Handler.tree = argv[3]
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(argv[2])), Handler)
        srv.serve_forever()
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
