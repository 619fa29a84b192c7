"""moto's server, applying one request at a time.

moto's TransactWriteItems snapshots each table it touches and restores the snapshot when a
condition fails, without a lock: a concurrent request's writes landing in between are undone.
Real DynamoDB isolates transactions, so the tests serialise requests here to get the same
guarantee (the 200-racing-sign-ups test otherwise flakes on moto, not on DynamoDB).

Usage: python tools/moto-serial.py HOST PORT
"""
import os
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serial(environ, start_response):
    with lock:
        # Consume the whole response inside the lock so nothing interleaves.
        return list(app(environ, start_response))


run_simple(host, port, serial, threaded=True)
