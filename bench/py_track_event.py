"""CPU per AutomagikTelemetry.track_event in the Python SDK: time.process_time over N calls, median of 5 rounds.

Prints one JSON line {"us": ...}. Nothing is sent while measuring (the batch is larger than the calls), so the figure
is what the host's code path pays: validation, flattening, scrubbing, ids and queueing.
"""

import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python", "src"))
from automagik_telemetry import AutomagikTelemetry  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50000
client = AutomagikTelemetry(project_name="bench", endpoint="http://127.0.0.1:1/v1/traces", clickhouse_password="x",
                            batch_size=N * 10, max_queue_size=N * 10, flush_interval=3600, env={"HOME": os.environ.get("HOME", "")})
for i in range(2000):
    client.track_event("warm", {"i": i})
rounds = []
for _ in range(5):
    client._processor._queue.clear()
    started = time.process_time()
    for i in range(N):
        client.track_event("track", {"i": i, "route": "/checkout"})
    rounds.append((time.process_time() - started) / N * 1e6)
client._processor._queue.clear()
client.shutdown(0)
print(json.dumps({"us": round(statistics.median(rounds), 2), "calls": N}))
