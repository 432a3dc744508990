"""`charrnn serve`: a model sampled over HTTP, with the standard library's server.

    POST /sample   {"n", "prime", "temperature", "top_k", "top_p", "stop", "seed",
                    "num_samples"} (all optional) -> {"samples": [text, ...]}
    POST /stream   the same but num_samples -> server-sent events, one per
                   character as it is drawn (data: a JSON string), then
                   "event: end"
    GET /info      the model: cell, sizes, dtype, vocabulary, iterations, limits

The text for a seed is CharRNN.sample's. A request that is not one of these,
or whose body is not a JSON object of those fields with values sample takes,
gets a 4xx and {"error": message, "field": name or null}; a body past
MAX_BODY, an n past MAX_N, more than MAX_SAMPLES samples are refused before
any work. Each connection has SOCKET_TIMEOUT seconds to send its request, so
a silent client holds one thread for that long, not forever; at most
MAX_ACTIVE samplings run at once (a 503 beyond). The C sampler releases the
GIL, so concurrent requests sample in parallel (http.server's
ThreadingHTTPServer: one thread per connection). The standard library is
enough here: a JSON API of three routes, no dependency to install or keep.
"""

from __future__ import annotations

import json
import math
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ._core import INT32_MAX
from .model import CharRNN
from .vocab import UnknownSymbolError

MAX_N = 10_000
MAX_SAMPLES = 64
MAX_BODY = 64 * 1024
MAX_ACTIVE = 32
SOCKET_TIMEOUT = 10.0
# Seeds up to 128 bits: NumPy's SeedSequence takes any, but a 10,000-digit one
# would only cost time.
MAX_SEED = 2**128
FIELDS = ("n", "prime", "temperature", "top_k", "top_p", "stop", "seed", "num_samples")


class BadRequest(ValueError):
    """A request to refuse with ``status``; ``field`` names the field at fault."""

    def __init__(self, message: str, field: str | None = None,
                 status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.field, self.status = field, status


def _whole(body: dict[str, Any], name: str, low: int, high: int, default: int | None) -> Any:
    """A whole number in [low, high]; null only where the default is (None)."""
    value = body.get(name, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high:,}, "
                         f"got {json.dumps(value)[:40]}", name)
    return value


def _number(body: dict[str, Any], name: str, low: float, high: float, low_open: bool,
            default: float | None) -> Any:
    """A finite number in [low, high] ((low, high] where ``low_open``); null as in _whole."""
    value = body.get(name, default)
    if value is None and default is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or not (low < value if low_open else low <= value)
            or value > high):
        bound = f"in ({low:g}, {high:g}]" if low_open else f"a finite number >= {low:g}"
        raise BadRequest(f"{name} must be {bound}, got {json.dumps(value)[:40]}", name)
    return float(value)


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{name} must be a string, got {json.dumps(value)[:40]}", name)
    return value


def parse_request(raw: bytes, stream: bool) -> dict[str, Any]:
    """CharRNN.sample's keyword arguments from a request body; BadRequest otherwise."""
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise BadRequest(f"the body is not JSON: {error}"[:200]) from None
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object, not a JSON {type(body).__name__}")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise BadRequest(f"unknown field {unknown[0][:40]!r}: the fields are "
                         f"{', '.join(FIELDS)}", unknown[0][:40])
    options = dict(
        n=_whole(body, "n", 0, MAX_N, 500),
        prime=_text(body, "prime"),
        temperature=_number(body, "temperature", 0.0, 1e6, False, 1.0),
        top_k=_whole(body, "top_k", 1, INT32_MAX, None),        # the C takes an int
        top_p=_number(body, "top_p", 0.0, 1.0, True, None),
        stop=_text(body, "stop"),
        seed=_whole(body, "seed", 0, MAX_SEED, None),
    )
    samples = _whole(body, "num_samples", 1, MAX_SAMPLES, None)
    if stream and samples is not None:
        raise BadRequest("num_samples is for /sample: /stream sends one text", "num_samples")
    if samples is not None:
        options["num_samples"] = samples
    return options


def model_info(model: CharRNN) -> dict[str, Any]:
    """What GET /info answers."""
    return {"cell": model.cell, "hidden_size": model.hidden_size,
            "num_layers": model.num_layers, "dtype": model.dtype,
            "parameters": int(model.params_.size), "vocabulary": model.vocab_.to_dict(),
            "iterations": model.n_iter_, "weights_only": model.weights_only_,
            "limits": {"n": MAX_N, "num_samples": MAX_SAMPLES, "body_bytes": MAX_BODY}}


def _as_text(piece: str | bytes) -> str:
    # A bytes model's text as JSON: its UTF-8, undecodable bytes replaced.
    return piece.decode("utf-8", "replace") if isinstance(piece, bytes) else piece


class Handler(BaseHTTPRequestHandler):
    server: Server
    timeout = SOCKET_TIMEOUT
    server_version = "charrnn-serve"
    # A request line the parser cannot read still gets a status line (0.9 has none).
    default_request_version = "HTTP/1.0"

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """http.server's own refusals (a bad request line, headers), as JSON."""
        self.close_connection = True
        if code == HTTPStatus.HTTP_VERSION_NOT_SUPPORTED:
            code = HTTPStatus.BAD_REQUEST           # the request's fault: a 4xx, as the rest
        self._send_json(code, {"error": message or HTTPStatus(code).phrase, "field": None})

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, TimeoutError):
            pass                                # a client that left or fell silent

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)

    def _send_json(self, status: int, value: Any) -> None:
        data = json.dumps(value).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, error: BadRequest) -> None:
        self._send_json(error.status, {"error": str(error), "field": error.field})

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/info":
            self._send_json(HTTPStatus.OK, self.server.info)
        else:
            self._refuse(BadRequest(f"no such resource: GET {self.path[:100]} (GET /info, "
                                    f"POST /sample, POST /stream)", None,
                                    HTTPStatus.NOT_FOUND))

    def _not_allowed(self) -> None:
        self._refuse(BadRequest(f"{self.command} is not served: GET /info, POST /sample, "
                                f"POST /stream", None, HTTPStatus.METHOD_NOT_ALLOWED))

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_allowed

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise BadRequest("send the body with a Content-Length, not chunked", None,
                             HTTPStatus.LENGTH_REQUIRED)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.isdigit():
            raise BadRequest(f"Content-Length {length[:40]!r} is not a number")
        if int(length) > MAX_BODY:
            raise BadRequest(f"the body is {int(length):,} bytes, more than {MAX_BODY:,}",
                             None, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        data = self.rfile.read(int(length))
        if len(data) < int(length):
            raise BadRequest("the body is shorter than its Content-Length")
        return data

    def do_POST(self) -> None:
        route = self.path.split("?")[0]
        try:
            if route not in ("/sample", "/stream"):
                raise BadRequest(f"no such resource: POST {self.path[:100]} (POST /sample, "
                                 f"POST /stream, GET /info)", None, HTTPStatus.NOT_FOUND)
            options = parse_request(self._body(), stream=route == "/stream")
            if not self.server.active.acquire(blocking=False):
                raise BadRequest(f"busy: {MAX_ACTIVE} samplings under way; try again", None,
                                 HTTPStatus.SERVICE_UNAVAILABLE)
        except BadRequest as error:
            self._refuse(error)
            return
        try:
            if route == "/sample":
                self._sample(options)
            else:
                self._stream(options)
        except Exception as error:             # a bug of ours: say so, and keep serving
            self.log_error("internal error: %r", error)
            self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR,
                            {"error": f"internal error: {type(error).__name__}", "field": None})
        finally:
            self.server.active.release()

    def _sample(self, options: dict[str, Any]) -> None:
        model = self.server.model
        try:
            result = model.sample(**options)
        except (UnknownSymbolError, ValueError) as error:
            # An unknown character in the prime or stop, mostly: the request's fault.
            self._refuse(BadRequest(str(error)[:500], "prime" if isinstance(
                error, UnknownSymbolError) else None))
            return
        samples = result if isinstance(result, list) else [result]
        self._send_json(HTTPStatus.OK, {"samples": [_as_text(text) for text in samples]})

    def _stream(self, options: dict[str, Any]) -> None:
        model = self.server.model
        n = options.pop("n")
        try:
            # A bad prime fails at the call or at the first draw: before the headers.
            pieces = model.generate(max_chars=n, **options)
            first = next(pieces, None)
        except (UnknownSymbolError, ValueError) as error:
            self._refuse(BadRequest(str(error)[:500], "prime" if isinstance(
                error, UnknownSymbolError) else None))
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        try:
            if first is not None:
                self.wfile.write(f"data: {json.dumps(_as_text(first))}\n\n".encode())
                for piece in pieces:
                    self.wfile.write(f"data: {json.dumps(_as_text(piece))}\n\n".encode())
                    self.wfile.flush()
            self.wfile.write(b"event: end\ndata: {}\n\n")
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass                                # the client left: stop drawing
        finally:
            getattr(pieces, "close")()            # a generator: its read of the model ends


class Server(ThreadingHTTPServer):
    """A ThreadingHTTPServer that holds the model, its /info and the sampling slots."""

    daemon_threads = True
    # Many clients at once connect faster than accept() takes them.
    request_queue_size = 128

    def __init__(self, model: CharRNN, host: str, port: int, quiet: bool = False) -> None:
        self.model, self.quiet = model, quiet
        self.info = model_info(model)
        self.active = threading.BoundedSemaphore(MAX_ACTIVE)
        super().__init__((host, port), Handler)


def make_server(model: CharRNN, host: str = "127.0.0.1", port: int = 8000,
                quiet: bool = False) -> Server:
    """A server for ``model`` bound to (host, port) (port 0: any free one);
    serve_forever() runs it, shutdown() stops it."""
    model._check_fitted()
    return Server(model, host, port, quiet)
