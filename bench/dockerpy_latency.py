"""dockerpy_latency.py — the docker-py column of the benchmark: times
`containers.run(IMAGE, ["true"], remove=True)` with Debian's python3-docker,
from one long-lived client (how a Python service would use it), one warm-up
run first, each taking its turn when run.sh interleaves the variants. Prints {"samples_ms": [...], "docker_py": VERSION}.

    python3 dockerpy_latency.py HOST IMAGE N      (HOST: unix:///path)
"""
import json
import os
import sys
import time

import docker


def turn_fifos():
    """The FIFOs run.sh hands out turns on (bench.h: bench_turn_begin), or
    (None, None) when run on its own."""
    go, done = os.environ.get('BENCH_TURN_GO'), os.environ.get('BENCH_TURN_DONE')
    if not go or not done:
        return None, None
    return os.open(go, os.O_RDWR), os.open(done, os.O_RDWR)


def main():
    if len(sys.argv) != 4:
        sys.exit('usage: dockerpy_latency.py HOST IMAGE N')
    host, image, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = docker.DockerClient(base_url=host, version='auto')
    samples = []
    go, done = turn_fifos()
    for i in range(-1, n):  # i == -1: warm-up
        if go is not None:
            os.read(go, 1)
        t0 = time.perf_counter()
        client.containers.run(image, ['true'], remove=True)
        if i >= 0:
            samples.append(round((time.perf_counter() - t0) * 1000, 3))
        if done is not None:
            os.write(done, b'x')
    client.close()
    print(json.dumps({'samples_ms': samples, 'docker_py': docker.__version__}))


if __name__ == '__main__':
    main()
