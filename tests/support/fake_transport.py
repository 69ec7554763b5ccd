"""An in-memory transport and clock for unit tests of lockkeys' HTTP rules: no sockets.

``FakeTransport`` answers each request from a script per URL (a list of replies used in order,
the last one repeating), records every request it saw, and reads bodies chunk by chunk on a
``FakeClock``: a :class:`Pause` in a body moves the clock forward (past the read timeout, the
read fails as a real socket's would), and the client's ``sleep`` moves it too, so deadlines
and backoff are tested without waiting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lockkeys._internal.sources.transport import ReadTimedOut, Request, TransportError


@dataclass
class FakeClock:
    now: float = 1000.0
    wall: float = 1_700_000_000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.wall + (self.now - 1000.0)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass(frozen=True)
class Pause:
    """``seconds`` without data in the middle of a body."""

    seconds: float


@dataclass
class Reply:
    status: int = 200
    body: Sequence[bytes | Pause] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    reason: str = ""


class FakeResponse:
    def __init__(self, reply: Reply, clock: FakeClock) -> None:
        self.status = reply.status
        self.reason = reply.reason or {200: "OK", 401: "Unauthorized", 403: "Forbidden"}.get(
            reply.status, ""
        )
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in reply.headers.items()}
        self._parts = list(reply.body)
        self._clock = clock
        self.reads = 0
        self.closed = False

    def read(self, max_bytes: int, timeout: float) -> bytes:
        self.reads += 1
        while self._parts:
            part = self._parts[0]
            if isinstance(part, Pause):
                if part.seconds > timeout:
                    self._clock.now += timeout
                    self._parts[0] = Pause(part.seconds - timeout)
                    raise ReadTimedOut(f"no data for {timeout:g} s")
                self._clock.now += part.seconds
                self._parts.pop(0)
                continue
            chunk, rest = part[:max_bytes], part[max_bytes:]
            if rest:
                self._parts[0] = rest
            else:
                self._parts.pop(0)
            return chunk
        return b""

    def close(self) -> None:
        self.closed = True


Script = Reply | TransportError | Sequence[Reply | TransportError]


class FakeTransport:
    """Answers from ``routes`` (URL -> script); an unknown URL is a 404."""

    def __init__(self, routes: Mapping[str, Script] | None = None, clock: FakeClock | None = None):
        self.clock = clock or FakeClock()
        self.routes: dict[str, list[Reply | TransportError]] = {}
        for url, script in (routes or {}).items():
            self.add(url, script)
        self.requests: list[Request] = []
        self.responses: list[FakeResponse] = []

    def add(self, url: str, script: Script) -> None:
        if isinstance(script, Reply | TransportError):
            self.routes[url] = [script]
        else:
            self.routes[url] = list(script)

    def send(self, request: Request) -> FakeResponse:
        self.requests.append(request)
        script = self.routes.get(request.url)
        if not script:
            reply: Reply | TransportError = Reply(404)
        elif len(script) > 1:
            reply = script.pop(0)
        else:
            reply = script[0]
        if isinstance(reply, TransportError):
            raise reply
        response = FakeResponse(reply, self.clock)
        self.responses.append(response)
        return response

    def close(self) -> None:
        pass

    def hits(self, url: str) -> int:
        return sum(1 for r in self.requests if r.url == url)
