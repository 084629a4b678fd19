# The timers benchmark's Python Kopf 1.45.2 operator: one timer per benchobject at the interval
# of $TIMER_INTERVAL seconds (Kopf's timers sleep the interval after each tick), writing nothing
# to the API; each tick appends "<name> <epoch ms>" to $TIMER_TICKS.
#
# Run: kopf run -q --standalone -n <namespace> bench/operators/kopf/timers.py

import os
import time

import kopf

INTERVAL = float(os.environ.get("TIMER_INTERVAL", "1"))
TICKS = os.open(os.environ.get("TIMER_TICKS", "/dev/null"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)


@kopf.timer("bench.kopf.dev", "v1", "benchobjects", id="tick", interval=INTERVAL)
async def tick(name, **_):
    # One write per tick, the same as our operator's writeSync().
    os.write(TICKS, f"{name} {int(time.time() * 1000)}\n".encode())
