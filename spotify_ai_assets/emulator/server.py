"""`SpotifyEmulator`: a loopback HTTP server answering like the Spotify Web API and accounts service.

Spec-strict: every `/v1` request is checked against the OpenAPI spec before it is answered (unknown paths 404,
unknown or malformed parameters, out-of-range limits, bad enums and ids 400 with Spotify's error body), and every
answer is checked against the spec's response schema. An answer that would break the spec is recorded in
`violations` and replaced by a 500, so no test can pass on a shape Spotify would never send.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from spotify_ai_assets.emulator.admin import admin
from spotify_ai_assets.emulator.auth import TokenStore, token_endpoint
from spotify_ai_assets.emulator.authorize import authorize
from spotify_ai_assets.emulator.call import Call
from spotify_ai_assets.emulator.catalog import Catalog
from spotify_ai_assets.emulator.faults import Fault, FaultBook, strip_first_record
from spotify_ai_assets.emulator.objects import Shapes
from spotify_ai_assets.emulator.plays import PlayHistory
from spotify_ai_assets.emulator.responses import ApiError, Response, error_body
from spotify_ai_assets.emulator.routes import TEMPLATES, resolve
from spotify_ai_assets.emulator.spec import SpecValidator
from spotify_ai_assets.sandbox.world import World

log = logging.getLogger(__name__)
MODES = ("development", "extended")


@lru_cache(maxsize=1)
def served_spec() -> SpecValidator:
    """One validator per process for the paths the emulator serves (building it takes about a second)."""
    return SpecValidator(paths=TEMPLATES)


RESPONSES_ALWAYS_CHECKED = 20


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def end_of_today() -> dt.datetime:
    return dt.datetime.combine(dt.datetime.now(dt.UTC).date(), dt.time(23, 59, 59, 999_000), dt.UTC)


class SpotifyEmulator:
    def __init__(
        self,
        world: World,
        *,
        mode: str = "development",
        client_id: str = "sandbox-client",
        client_secret: str = "sandbox-secret",
        clock: dt.datetime | None = None,
        expired_refresh_tokens: Iterable[str] | None = None,
        redirect_uris: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        response_sample: int = 1,
    ):
        self.world = world
        self.mode = mode
        self.clock = clock or end_of_today()
        self.client_id = client_id
        self.client_secret = client_secret
        if expired_refresh_tokens is None:
            expired_refresh_tokens = [world.refresh_token(world.expired_token_user)]
        self.expired_refresh_tokens = frozenset(expired_refresh_tokens)
        # None: any http loopback redirect URI is accepted (see authorize.loopback_or_registered).
        self.redirect_uris = None if redirect_uris is None else tuple(redirect_uris)
        self.host = host
        self.port = port
        self.catalog = Catalog(world)
        self.plays = PlayHistory(world, self.catalog)
        self.tokens = TokenStore()
        self._faults = FaultBook()
        self._log_lock = threading.Lock()
        self._log: list[tuple[str, str, int]] = []
        self._violations: list[str] = []
        # Every answer is checked against the spec unless `response_sample` n > 1: then the first
        # RESPONSES_ALWAYS_CHECKED answers of each operation and one in n after that. The sandbox's daily runs use it:
        # checking an answer costs about as much as making it, and an operation's answers share one shape, which the
        # tests check on every answer. Requests are always checked: the emulator rejects what Spotify rejects.
        if response_sample < 1:
            raise ValueError(f"response_sample must be at least 1, not {response_sample}")
        self.response_sample = response_sample
        self._answers: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- settings ----------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {value!r}")
        self._mode = value

    @property
    def clock(self) -> dt.datetime:
        """"Now" in the sandbox world; naive datetimes are taken as UTC."""
        return self._clock

    @clock.setter
    def clock(self, value: dt.datetime) -> None:
        self._clock = _utc(value)

    def inject(self, fault: Fault) -> None:
        self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """Faults not used up yet, in injection order."""
        return self._faults.pending()

    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        """A copy of (method, path with query, status) for every request served so far."""
        with self._log_lock:
            return list(self._log)

    @property
    def violations(self) -> list[str]:
        """Answers the emulator would have sent that break the spec (each was replaced by a 500)."""
        with self._log_lock:
            return list(self._violations)

    def revoke_user(self, user: int) -> int:
        """The user removes the app's access: their refresh tokens from the authorization flow stop working."""
        return self.tokens.revoke_user(user)

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> SpotifyEmulator:
        if self._server is not None:
            raise RuntimeError("emulator already started")
        server = _Server((self.host, self.port), _Handler)
        server.emulator = self
        served_spec().warm_up()  # build the spec validator while the caller gets on with its setup
        self.port = server.server_address[1]
        self._server = server
        # A short poll interval keeps stop() fast; it only costs an idle wake-up every 50 ms.
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"spotify-emulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> SpotifyEmulator:
        return self.start() if self._server is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("the emulator picks its port in start(); call start() first")
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/v1/"

    @property
    def accounts_url(self) -> str:
        return f"{self.base_url}/"

    # ---- request handling --------------------------------------------------------------------
    def respond(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        """Answer one request; `headers` are keyed in lower case. Logs it for `request_log`."""
        try:
            response = self._respond(method, target, headers, body)
        except Exception as exc:  # a bug here must still reach the client as a 500, not a dropped socket
            log.exception("emulator failed on %s %s", method, target)
            response = Response(500, error_body(500, f"Emulator error: {exc!r}"))
        with self._log_lock:
            self._log.append((method, target, response.status))
        return response

    def _respond(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"  # Spotify routes "tracks/" as "tracks" (spotipy sends both)
        if path.startswith("/_emulator/"):
            return admin(self, method, path, body)
        if path == "/authorize":
            world = self.world
            shown = [world.user_ids[int(u)] for u in world.connected_users] + world.user_ids[:10]
            return authorize(method, parts.query, body, client_id=self.client_id, registered=self.redirect_uris,
                             user_by_id=self.catalog.user_index.get, users_shown=list(dict.fromkeys(shown)),
                             tokens=self.tokens)
        fault = self._faults.take(path)
        if fault is not None and fault.kind == "expired_token":
            self.tokens.expire(_bearer(headers))
        if fault is not None and fault.kind != "missing_fields":
            return fault.response()
        if path == "/api/token":
            if method != "POST":
                return Response(405, error_body(405, "Method not allowed"))
            response = token_endpoint(headers, body, (self.client_id, self.client_secret),
                                      self._refresh_user, self.tokens)
        elif path.startswith("/v1/"):
            query = parse_qsl(parts.query, keep_blank_values=True)
            response = self._api(method, path, query, headers)
            # A deliberate fault is meant to break the shape; anything else must conform.
            if fault is None and self._checks_answer(method, path):
                response = self._conforming(method, path, query, response)
        else:
            response = Response(404, error_body(404, "Service not found"))
        if fault is not None and response.status == 200:
            strip_first_record(response.body)
        return response

    def _refresh_user(self, refresh_token: str) -> int | None:
        if refresh_token in self.expired_refresh_tokens:
            return None
        return self.catalog.refresh_tokens.get(refresh_token)

    def _api(self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str]) -> Response:
        authorization = headers.get("authorization", "")
        if not authorization.startswith("Bearer "):
            return ApiError(401, "No token provided").response()
        grant = self.tokens.lookup(_bearer(headers))
        if grant is None:
            return ApiError(401, "Invalid access token").response()
        if grant.expired:
            return ApiError(401, "The access token expired").response()
        route = resolve(path)
        if route is None:
            return ApiError(404, "Service not found").response()
        template, handler, groups = route
        if method != "GET":  # the emulator serves reads only; the spec's writes are not part of the sandbox
            return ApiError(405, "Method not allowed").response()
        problem = served_spec().check_request(method, template, path, query, headers)
        if problem is not None:
            return ApiError(problem.status, problem.message).response()
        clock, extended = self.clock, self.mode == "extended"  # read once: a request sees one world
        api_url = self.api_url
        shapes = Shapes(self.world, self.catalog, api_url, extended, clock.date())
        call = Call(self.world, self.catalog, self.plays, shapes, clock, extended, api_url, dict(query), grant.user)
        try:
            return Response(200, handler(call, *groups))
        except ApiError as exc:
            return exc.response()

    def _checks_answer(self, method: str, path: str) -> bool:
        if self.response_sample == 1:
            return True
        route = resolve(path)
        operation = f"{method} {route[0] if route else path}"
        with self._log_lock:
            n = self._answers[operation] = self._answers.get(operation, 0) + 1
        return n <= RESPONSES_ALWAYS_CHECKED or n % self.response_sample == 0

    def _conforming(self, method: str, path: str, query: list[tuple[str, str]], response: Response) -> Response:
        problem = served_spec().check_response(method, path, query, response.status, response.encoded(),
                                               response.headers)
        if problem is None:
            return response
        with self._log_lock:
            self._violations.append(f"{method} {path}: {problem}")
        log.error("emulator answer to %s %s violates the spec: %s", method, path, problem)
        return Response(500, error_body(500, f"Emulator answer violates the spec: {problem[:300]}"))


def _bearer(headers: dict[str, str]) -> str:
    value = headers.get("authorization", "")
    return value[len("Bearer "):].strip() if value.startswith("Bearer ") else ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    emulator: SpotifyEmulator


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "SpotifyEmulator/1.0"
    # Keep-alive, as Spotify's own servers: HTTP/1.0 closed the connection after each answer, so every request paid
    # a TCP connect and a new server thread (a sandbox catalog crawl of ~860 requests took twice as long). Every
    # answer carries Content-Length, which HTTP/1.1 needs. Without Nagle: headers and body are two writes, and
    # Nagle would hold the second until the client's delayed ACK (40 ms a request).
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        response = self.server.emulator.respond(self.command, self.path, headers, body)
        payload = response.encoded()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s - %s", self.address_string(), format % args)
