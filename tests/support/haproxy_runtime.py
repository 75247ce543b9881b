"""HAProxy's runtime API for tests and benches: one command per connection on the admin
socket (`stats socket ... level admin`), the answer read to EOF."""
import socket


def runtime(sock_path, command, timeout=5):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(sock_path)
        s.sendall((command + "\n").encode())
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out.decode()
            out += chunk
