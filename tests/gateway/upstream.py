"""A stand-in for one cluster's OpenAI-compatible endpoint: answers every request with JSON
naming itself, the path it saw and the model of the body; GET /health is 200. A body with
"sleep": SECONDS answers that much later (a long generation).
Usage: upstream.py PORT NAME"""
import http.server
import json
import sys
import time

PORT, NAME = int(sys.argv[1]), sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.reply({"server": NAME, "path": self.path})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        try:
            request = json.loads(raw or b"{}")
        except ValueError:
            request = {}
        model = request.get("model")
        time.sleep(min(float(request.get("sleep", 0)), 30))
        self.reply({"server": NAME, "path": self.path, "model": model,
                    "object": "chat.completion",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": NAME}}]})

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # HAProxy's health checks close with a reset; not worth a traceback


Server(("127.0.0.1", PORT), Handler).serve_forever()
