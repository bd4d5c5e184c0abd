"""moto's server, handling one request at a time.

moto's stock server is threaded and its DynamoDB backend evaluates a condition and writes without a
lock, so two concurrent conditional writes can both pass. Real DynamoDB evaluates each condition
atomically with its write; serving requests one at a time gives the tests that guarantee.
"""

import os
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
# Not threaded, so werkzeug also speaks HTTP/1.0 and closes each connection: no client can hold
# the single worker with a kept-alive connection.
run_simple(host, port, DomainDispatcherApplication(create_backend_app), threaded=False)
