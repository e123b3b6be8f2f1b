"""gunicorn's gthread worker, but a request reaches a thread only once it has fully arrived.

Stock gthread hands a connection to a thread as soon as its first byte arrives, and the thread
then blocks reading headers and body: 32 clients sending a byte a second hold all 32 threads and
nobody else is answered. Here the worker's event loop (which already parks idle keep-alive
connections) reads each request line, header block and body without blocking, as nginx does in
front of an app server; bodies over SPOOL_MEMORY_BYTES spill to a temporary file. Each phase has a
deadline (REQUEST_LINE_TIMEOUT_S, HEADER_TIMEOUT_S, BODY_TIMEOUT_S): past it the client gets a
408 JSON error and the connection is closed. The buffered bytes are then replayed to gunicorn's
own parser, so HTTP parsing and its limits stay gunicorn's. TLS connections (certfile set) skip
the buffering: the event loop cannot read through TLS without blocking.

gunicorn.conf.py selects it: worker_class = "service.worker.BufferedThreadWorker".
"""

from __future__ import annotations

import contextlib
import json
import selectors
import tempfile
import time
from functools import partial

from gunicorn import util
from gunicorn.http.unreader import SocketUnreader
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import ThreadWorker

from service.framing import Framing
from service.headers import API_POLICY, COMMON
from service.limits import Limits
from service.settings import Settings

SPOOL_MEMORY_BYTES = 1024 * 1024
READ_SIZE = 256 * 1024
# What gunicorn's parser refuses, as the JSON codes the API documents (reason phrase otherwise).
CODES = {400: "bad_request", 408: "request_timeout", 414: "request_line_too_long", 431: "headers_too_large"}


def json_error(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 error response with the API's JSON body; the connection closes."""
    code = CODES.get(status) or reason.lower().replace(" ", "_")
    body = json.dumps({"error": {"code": code, "message": message or reason}}).encode()
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "Connection": "close",
        **COMMON,
        "Content-Security-Policy": API_POLICY,
    }
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """Replacement for gunicorn.util.write_error (HTML): errors below Flask are JSON too.

    gunicorn answers an unknown transfer coding with 501; a request the server cannot read is
    the client's error here (the API promises no 5xx for malformed requests), so it becomes 400.
    """
    if status_int == 501:
        status_int, reason = 400, "Bad Request"
    util.write_nonblock(sock, json_error(status_int, reason, mesg))


class BufferedUnreader(SocketUnreader):
    """gunicorn's socket reader, served first from the bytes the event loop buffered."""

    def __init__(self, sock, spool) -> None:
        super().__init__(sock)
        self.spool = spool

    def chunk(self, size_hint: int | None = None) -> bytes:
        """The next buffered bytes, then the socket's."""
        if self.spool is not None:
            data = self.spool.read(max(size_hint or 0, self.mxchunk))
            if data:
                return data
            self.spool.close()
            self.spool = None
        return super().chunk(size_hint)

    def release(self) -> None:
        """Move what is left of the buffered bytes (a pipelined request) into gunicorn's buffer."""
        if self.spool is not None:
            rest = self.spool.read()
            self.spool.close()
            self.spool = None
            self.buf.seek(0, 2)
            self.buf.write(rest)


class Pending:
    """One connection whose request is still arriving."""

    def __init__(self, conn, framing: Framing, settings: Settings) -> None:
        self.conn, self.framing, self.settings = conn, framing, settings
        self.started = self.last_read = time.monotonic()
        self.counted = False  # in the arriving gauge
        # Closed by the worker when the connection closes or the body has been replayed.
        self.spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115

    def feed(self, data: bytes) -> bool:
        """Keep the bytes; True once the request is complete."""
        self.last_read = time.monotonic()
        self.spool.write(data)
        return self.framing.feed(data)

    def timeout(self) -> float:
        """The configured seconds of the current phase."""
        phase, settings = self.framing.phase, self.settings
        if phase == "line":
            return settings.request_line_timeout_s
        return settings.header_timeout_s if phase == "headers" else settings.body_timeout_s

    def deadline(self) -> float:
        """When the current phase times out: line and headers from the start, the body per read."""
        in_head = self.framing.phase in ("line", "headers")
        return (self.started if in_head else self.last_read) + self.timeout()

    def phase_name(self) -> str:
        """The phase, as a client-facing word."""
        return {"line": "request line", "headers": "headers"}.get(self.framing.phase, "body")


class BufferedThreadWorker(ThreadWorker):
    """gthread whose threads only ever see complete requests."""

    def init_process(self) -> None:
        """Read the timeouts and body limit (validated in the master already), then run."""
        from prometheus_client import Gauge  # multiprocess mode: the master set its directory

        self.settings = Settings.from_env()
        self.pending: set[Pending] = set()
        # Requests whose bytes are still arriving (held by this event loop, not by a thread).
        self.arriving = Gauge(
            "emotion_http_requests_arriving",
            "Requests being received (request line, headers or body still arriving)",
            multiprocess_mode="livesum",
        )
        util.write_error = write_json_error  # this worker process only
        super().init_process()

    def _framing(self) -> Framing:
        """Request limits: gunicorn's for the head, the app's largest accepted body."""
        cfg = self.cfg
        line = (cfg.limit_request_line or 64 * 1024) + 2
        head = line + (cfg.limit_request_fields or 100) * ((cfg.limit_request_field_size or 8190) + 2) + 2
        return Framing(line, head, Limits.from_settings(self.settings).largest_body_bytes)

    def enqueue_req(self, conn) -> None:
        """New, kept-alive and pipelined requests are buffered first; complete ones go to a thread."""
        if getattr(conn, "complete", False) or self.cfg.is_ssl:
            conn.complete = False
            super().enqueue_req(conn)
            return
        if conn.parser is None and negotiation.prior_knowledge_allowed(self.cfg, conn.client):
            super().enqueue_req(conn)  # HTTP/2 prior knowledge: not HTTP/1 framing
            return
        state = Pending(conn, self._framing(), self.settings)
        leftover = conn.parser.unreader.take_buffered() if conn.parser else b""
        if leftover and state.feed(leftover):
            self._dispatch(state)
            return
        conn.sock.setblocking(False)
        self.pending.add(state)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, state))

    def finish_request(self, conn, fs) -> None:
        """As gthread, after handing a pipelined request's bytes back so it is seen at once."""
        unreader = getattr(conn.parser, "unreader", None)
        if isinstance(unreader, BufferedUnreader):
            unreader.release()
        super().finish_request(conn, fs)

    def _readable(self, state: Pending, sock) -> None:
        """Read what arrived without blocking; dispatch once the request is complete."""
        try:
            data = sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._close(state)
            return
        before = state.framing.phase
        if not state.counted:
            state.counted = True
            self.arriving.inc()
        if state.feed(data):
            self._dispatch(state)
        elif state.framing.expects_continue and before != state.framing.phase:
            # The client waits for this before sending its body (curl: up to 1 s).
            util.write_nonblock(sock, b"HTTP/1.1 100 Continue\r\n\r\n")

    def _dispatch(self, state: Pending) -> None:
        """Hand the complete request to a thread, reading from the buffered bytes first."""
        conn = state.conn
        self._forget(state)
        state.spool.seek(0)
        conn.init()
        conn.parser.unreader = BufferedUnreader(conn.sock, state.spool)
        conn.complete = True
        self.enqueue_req(conn)

    def _forget(self, state: Pending) -> None:
        """Stop watching this connection's socket."""
        self.pending.discard(state)
        if state.counted:
            state.counted = False
            self.arriving.dec()
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(state.conn.sock)

    def _close(self, state: Pending, response: bytes = b"") -> None:
        """Optionally answer, then close the connection."""
        self._forget(state)
        if response:
            with contextlib.suppress(OSError):  # non-blocking: a client that does not read gets nothing
                state.conn.sock.send(response)
        state.spool.close()
        self.nr_conns -= 1
        state.conn.close()

    def murder_pending(self) -> None:
        """gunicorn's timeouts, then ours: 408 for a request too slow to arrive."""
        super().murder_pending()
        now = time.monotonic()
        for state in list(self.pending):
            idle = state.framing.received == 0
            if not self.alive and idle:
                self._close(state)  # stopping: a connection that sent nothing has nothing to finish
            elif now >= state.deadline():
                message = f"the {state.phase_name()} did not arrive within {state.timeout():g} s"
                self.log.info("closing a slow connection from %s: %s", state.conn.client, message)
                self._close(state, b"" if idle else json_error(408, "Request Timeout", message))
