"""gunicorn settings of the web server: `gunicorn -c platform/config/gunicorn.py config.wsgi`.

The viewer fetches a series as hundreds of small files over six kept-alive connections
per browser, so the server must keep connections open between requests (gthread: idle
connections wait in a poller, not in a thread) and hand file bodies to the kernel
(sendfile, through wsgi.file_wrapper). The sync worker closes every connection after
each response and the browser then pays a new TCP handshake per slice.
"""

import os

worker_class = "gthread"
# One process per core keeps Python's GIL from serialising the cores; threads let a
# process overlap database waits and slow clients. The viewer benchmarks run 2 workers x
# 4 threads on 2 cores (other counts were not compared).
workers = int(os.environ.get("WEB_CONCURRENCY", 0)) or (os.cpu_count() or 2)
threads = int(os.environ.get("WEB_THREADS", 4))
keepalive = 30
# A listening socket per worker (SO_REUSEPORT): the kernel spreads new connections over
# the workers evenly. With one shared socket the first worker to wake took most of
# them: 50 kept-alive clients split 9 / 41 between two workers, and the 41 waited twice
# as long (library list p90 175 ms, then 83 ms with this on; bench_library.py).
reuse_port = True
sendfile = True
# Apps import as top-level names (config, cases, ...) from platform/.
pythonpath = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def post_worker_init(worker):
    """Exempt what the loaded application holds from the cyclic garbage collector.

    Django's modules, models and templates are a quarter of a million objects that live
    as long as the process, and every full collection walked them all: measured in
    process, one full collection paused a worker for 260 ms (all its threads) and cost
    an upload 0.55 ms of CPU per file; frozen, the longest collection took 8.5 ms and
    0.03 ms per file. Objects created later (per request) are collected as before.
    """
    import gc

    gc.freeze()
