"""What bench/lifecycle.py and bench/soak.py share: the berthd their shell
half started (BENCH_API, BENCH_TOKEN, BENCH_ROUTER, BENCH_REPO, BENCH_STATE)
and say() for progress on stderr. Standard library only."""
import os
import sys

API = os.environ["BENCH_API"]  # http://127.0.0.1:PORT/api/v1
TOKEN = os.environ["BENCH_TOKEN"]
ROUTER = os.environ["BENCH_ROUTER"]  # ADDR:PORT
REPO = os.environ["BENCH_REPO"]
STATE = os.environ["BENCH_STATE"]  # berthd's state dir
HOSTPORT = API.split("/")[2]
PREFIX = "/" + API.split("/", 3)[3]


def say(*args):
    print(*args, file=sys.stderr, flush=True)
