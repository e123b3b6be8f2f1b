"""Where one HTTP/1.x request ends, found incrementally from the bytes as they arrive.

service/worker.py buffers every request in gunicorn's event loop and hands it to a thread only
once this says it is complete. It decides nothing else: anything odd (conflicting lengths, an
oversized head, a bad chunk size) ends the buffering early, and gunicorn's own parser then refuses
the request with its usual 4xx, so there is one HTTP parser with authority, not two.
"""

from __future__ import annotations

import re

CRLF = b"\r\n"
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
MAX_CHUNK_LINE = 4096  # a chunk-size line (with extensions) longer than this is not ours to judge


class Framing:
    """Feed bytes; `feed` returns True once the request (line, headers, body) is complete."""

    def __init__(self, max_line: int, max_head: int, max_body: int) -> None:
        self.max_line, self.max_head, self.max_body = max_line, max_head, max_body
        self.phase = "line"  # line -> headers -> body | chunk-size -> chunk-data -> trailers -> done
        self.head = bytearray()
        self.received = 0
        self.remaining = 0  # body bytes still expected (content length or the current chunk + CRLF)
        self.body_seen = 0
        self.line = bytearray()  # the chunk-size or trailer line being read
        self.expects_continue = False

    @property
    def done(self) -> bool:
        """True once the whole request has been seen (or it is for gunicorn to refuse)."""
        return self.phase == "done"

    def feed(self, data: bytes) -> bool:
        """Account for the next bytes from the socket."""
        self.received += len(data)
        view = memoryview(data)
        while view and not self.done:
            if self.phase in ("line", "headers"):
                view = self._feed_head(view)
            elif self.phase == "body":
                view = self._skip(view, then="done")
            elif self.phase == "chunk-data":
                view = self._skip(view, then="chunk-size")
            else:
                view = self._feed_chunk_line(view)
        return self.done

    def _feed_head(self, view: memoryview) -> memoryview:
        """Collect the request line and headers; on their end decide how the body is framed."""
        start = max(0, len(self.head) - 3)
        self.head += view
        if self.phase == "line":
            while self.head.startswith(CRLF):  # RFC 9112 2.2: leading empty lines are ignored
                del self.head[:2]
                start = 0
            if CRLF not in self.head:
                if len(self.head) > self.max_line:
                    self.phase = "done"  # too long: gunicorn answers 414
                return memoryview(b"")
            self.phase = "headers"
        end = self.head.find(CRLF * 2, start)
        if end < 0:
            if len(self.head) > self.max_head:
                self.phase = "done"  # gunicorn answers 431
            return memoryview(b"")
        rest = memoryview(bytes(self.head[end + 4 :]))
        del self.head[end + 4 :]
        self._frame_body(bytes(self.head[: end + 2]))
        return rest

    def _frame_body(self, head: bytes) -> None:
        """Content-Length, chunked, or no body; odd framing goes straight to gunicorn."""
        lengths, codings = [], []
        for line in head.split(CRLF)[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                lengths.append(value)
            elif name == b"transfer-encoding":
                codings.append(value)
            elif name == b"expect" and value == b"100-continue":
                self.expects_continue = True
        self.phase = "done"
        if codings:
            if not lengths and codings == [b"chunked"]:
                self.phase = "chunk-size"
        elif len(lengths) == 1 and lengths[0].isdigit() and 0 < int(lengths[0]) <= self.max_body:
            self.remaining, self.phase = int(lengths[0]), "body"
        if self.phase == "done":
            self.expects_continue = False

    def _skip(self, view: memoryview, then: str) -> memoryview:
        """Count body bytes off `remaining`; then move on."""
        taken = min(len(view), self.remaining)
        self.remaining -= taken
        self.body_seen += taken
        if self.body_seen > self.max_body + 2 * MAX_CHUNK_LINE:
            self.phase = "done"  # the app refuses it with 413 as it reads
        elif self.remaining == 0:
            self.phase = then
        return view[taken:]

    def _feed_chunk_line(self, view: memoryview) -> memoryview:
        """A chunk-size line, or one trailer line; an empty trailer line ends the body."""
        cut = bytes(view).find(b"\n")
        if cut < 0:
            self.line += view
            if len(self.line) > MAX_CHUNK_LINE:
                self.phase = "done"
            return memoryview(b"")
        self.line += view[: cut + 1]
        line, self.line = bytes(self.line).rstrip(b"\r\n"), bytearray()
        if self.phase == "trailers":
            if not line:
                self.phase = "done"
            return view[cut + 1 :]
        size = line.split(b";", 1)[0].strip()
        if not _HEX.fullmatch(size):
            self.phase = "done"  # gunicorn answers "invalid chunk size"
        elif int(size, 16) == 0:
            self.phase = "trailers"
        else:
            self.remaining, self.phase = int(size, 16) + 2, "chunk-data"
        return view[cut + 1 :]
