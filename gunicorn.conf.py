"""gunicorn settings for the `web` process. Configuration is checked in the master, before any
worker boots, so a bad variable stops the process with one line instead of a traceback.

Threads, not processes, serve the inbox's live event streams: each open stream holds one
thread, for at most a couple of minutes (helpline.live.feed), and the app keeps a quarter of
the threads for ordinary requests (docs/decisions.md, "Live inbox").
"""

import os

from gunicorn.glogging import Logger

from helpline.config import DEFAULT_WEB_THREADS


def _whole(value, default):
    # A malformed value is reported in one line by the preflight check in on_starting.
    return int(value) if value and value.isdigit() else default


bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = _whole(os.environ.get("WEB_CONCURRENCY"), 2)
worker_class = "gthread"
threads = _whole(os.environ.get("WEB_THREADS"), DEFAULT_WEB_THREADS)
timeout = 30
graceful_timeout = 20
# No gunicorn access log: the app writes one line per request, with its request id.
accesslog = None
# Several gunicorns on one machine must not fight over one shared control socket.
control_socket_disable = True


def on_starting(server):  # noqa: ARG001 (gunicorn's hook signature)
    from helpline.preflight import check_or_exit

    check_or_exit("web")


def post_worker_init(worker):
    """On SIGTERM a worker stops taking requests and waits for the ones it serves, live event
    streams included, up to graceful_timeout: end the streams first, so a deploy or restart
    takes seconds, not the timeout (the browsers reconnect to the new processes)."""
    import signal

    from helpline.live.feed import close_streams

    stop = signal.getsignal(signal.SIGTERM)

    def end_streams_then_stop(signum, frame):
        close_streams()
        if callable(stop):
            stop(signum, frame)

    signal.signal(signal.SIGTERM, end_streams_then_stop)


class HelplineLogger(Logger):
    """gunicorn's own lines (boot, worker exits) in the helpline's log format, on stderr."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
            log.propagate = True
        from helpline import logs

        logs.configure("web")


logger_class = HelplineLogger
