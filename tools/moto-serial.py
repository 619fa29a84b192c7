"""moto's server, applying one request at a time.

moto's TransactWriteItems snapshots each table it touches and restores the snapshot when a
condition fails, without a lock: a concurrent request's writes landing in between are undone.
Real DynamoDB isolates transactions, so the tests serialise requests here to get the same
guarantee (the 200-racing-sign-ups test otherwise flakes on moto, not on DynamoDB).

moto also keeps every model instance it ever made for its dashboard (`/moto-api/data.json`),
DynamoDB items included, and the snapshots above make a copy of every item of a table on every
transaction: over a test run that grew to gigabytes, and one read of `data.json` (the SNS and
SES tests read sent messages there) then held the lock for tens of seconds. DynamoDB's models
are therefore not tracked here; every other service's are, so `data.json` still shows them.

Usage: python tools/moto-serial.py HOST PORT
"""
import os
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

import moto.dynamodb.models  # noqa: F401  (defines the classes to untrack below)
from moto.core.model_instances import model_data


class Untracked(list):
    def append(self, _instance):
        pass


for model in model_data["dynamodb"].values():
    model.instances_tracked = Untracked()

host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serial(environ, start_response):
    with lock:
        # Consume the whole response inside the lock so nothing interleaves.
        return list(app(environ, start_response))


run_simple(host, port, serial, threaded=True)
