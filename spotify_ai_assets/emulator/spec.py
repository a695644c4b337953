"""The Spotify Web API OpenAPI spec (2026) as the emulator's judge: every request and every answer is checked
with `openapi-core` against `spec/spotify-web-api.openapi.yml` (a verbatim copy of the published spec).

Some rules Spotify enforces are written in the spec's prose, not its schemas ("Maximum: 50 IDs", "Valid values
are: album, single, ...", "the Spotify ID of the artist"). `documented_constraints` turns exactly those sentences
into schema keywords (a `pattern`) on a copy of the spec, reading them from the spec's own text, so they are
checked by the same validator instead of by hand. The few rules no schema can hold (a query parameter the
operation does not declare, one given twice, `after` together with `before`) are checked in `SpecValidator`.

One repair: the spec's `oneOf` + `discriminator: {propertyName: type}` (TrackObject | EpisodeObject) has no
`mapping`, so OpenAPI's implicit mapping sends `"type": "track"` to a schema named `track`, which does not exist,
and a real Spotify playlist item fails validation. `documented_constraints` adds the mapping the spec states
itself: each alternative's own `type` enum ("track" -> TrackObject, "episode" -> EpisodeObject).

The error texts follow Spotify's (`{"error": {"status": 400, "message": "Invalid limit"}}`).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

MEMO_SIZE = 4096  # request verdicts kept per validator (a crawl repeats a few hundred shapes)
SPEC_PATH = Path(__file__).with_name("spec") / "spotify-web-api.openapi.yml"
BASE62_ID = "[0-9A-Za-z]{22}"
# Spotify's own words for the failures it reports; anything else is "Invalid <parameter>".
MISSING_MESSAGES = {"q": "No search query", "type": "Missing parameter type"}
INVALID_MESSAGES = {"market": "Invalid market code"}
ERROR_WRAPPER = {"type": "object", "required": ["error"],
                 "properties": {"error": {"$ref": "#/components/schemas/ErrorObject"}}}


@lru_cache(maxsize=2)
def load_spec(path: str = str(SPEC_PATH)) -> dict[str, Any]:
    """The spec as a plain dict (cached per process: parsing 7,500 lines of YAML takes about half a second)."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc,valid-type]
        """YAML without the timestamp type: an `example: 2021-01-01` stays the string JSON would have."""

    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in base.yaml_implicit_resolvers.items()}
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=Loader)


def _brief(error: Any) -> str:
    """One schema error in a line: where (JSON path) and what, never the whole offending value."""
    where = "/".join(str(p) for p in getattr(error, "absolute_path", [])) or "<body>"
    what = getattr(error, "message", str(error))
    return f"at {where}: {what[:160]}"


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        parts = node["$ref"].lstrip("#/").split("/")
        node = spec
        for part in parts:
            node = node[part]
    return node


def _backticked_after(text: str, lead: str) -> list[str]:
    """The `code` words following `lead` in a description, e.g. the valid values Spotify lists in prose."""
    at = text.find(lead)
    return re.findall(r"`([a-z_]+)`", text[at:]) if at >= 0 else []


def _list_pattern(values: Sequence[str]) -> str:
    word = "(" + "|".join(re.escape(v) for v in values) + ")"
    return f"^{word}(,{word})*$"


def _constrain(spec: dict[str, Any], param: dict[str, Any]) -> None:
    """Add the prose rules of one parameter to its schema, in place."""
    schema = param.setdefault("schema", {})
    if param.get("name") == "offset" and schema.get("type") == "integer" and "minimum" not in schema:
        # "The index of the first item to return": an index, so never negative.
        schema["minimum"] = 0
    if schema.get("type") != "string" or "pattern" in schema:
        return
    text = " ".join(str(x) for x in (schema.get("description"), param.get("description"), schema.get("title")) if x)
    name = param.get("name")
    if param.get("in") == "path" and "Spotify ID" in text:
        schema["pattern"] = f"^{BASE62_ID}$"
    elif name == "ids":
        most = re.search(r"Maximum: (\d+) IDs", text)
        if most:
            schema["pattern"] = f"^{BASE62_ID}(,{BASE62_ID}){{0,{int(most.group(1)) - 1}}}$"
    elif name == "include_groups":
        values = _backticked_after(text, "Valid values are")
        if values:
            schema["pattern"] = _list_pattern(values)
    elif name == "additional_types":
        values = _backticked_after(text, "Valid types are")
        if values:
            schema["pattern"] = _list_pattern(values)
    elif name == "market" and "ISO 3166-1 alpha-2" in text:
        schema["pattern"] = "^([A-Z]{2}|from_token)$"


def _type_enum(spec: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    schema = _resolve(spec, schema)
    found = list(schema.get("properties", {}).get("type", {}).get("enum", []))
    for part in schema.get("allOf", []):
        found += _type_enum(spec, part)
    return found


def _map_discriminators(spec: dict[str, Any], node: Any) -> None:
    """Give every `type` discriminator without a mapping the one its alternatives' `type` enums state."""
    if isinstance(node, dict):
        disc = node.get("discriminator")
        if isinstance(disc, dict) and "mapping" not in disc and "oneOf" in node:
            mapping = {}
            for alt in node["oneOf"]:
                for value in _type_enum(spec, alt) if "$ref" in alt else []:
                    mapping[value] = alt["$ref"]
            if mapping:
                disc["mapping"] = mapping
        for value in node.values():
            _map_discriminators(spec, value)
    elif isinstance(node, list):
        for value in node:
            _map_discriminators(spec, value)


def documented_constraints(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of `spec` whose parameters also carry the constraints their descriptions state, and whose
    discriminators carry the mapping their alternatives state."""
    out = copy.deepcopy(spec)
    _map_discriminators(out, out)
    for param in out.get("components", {}).get("parameters", {}).values():
        _constrain(out, param)
    for item in out["paths"].values():
        for method, op in item.items():
            if method in ("get", "put", "post", "delete", "patch"):
                for param in op.get("parameters", []):
                    if "$ref" not in param:
                        _constrain(out, param)
    return out


def served_subset(spec: dict[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """Only `paths` (spec templates such as `/artists/{id}`), with every component: a smaller router to search."""
    wanted = set(paths)
    missing = wanted - set(spec["paths"])
    if missing:
        raise KeyError(f"paths not in the spec: {sorted(missing)}")
    return {**spec, "paths": {p: v for p, v in spec["paths"].items() if p in wanted}}


@dataclass(frozen=True)
class Problem:
    """What is wrong with a request, as Spotify would answer it."""

    status: int
    message: str


def import_validation_modules() -> None:
    """The modules the validator needs (0.3 s): the multiprocess fork server imports them once per run."""
    import openapi_core
    import openapi_core.datatypes
    import openapi_core.exceptions
    import openapi_core.templating.media_types.finders
    import openapi_core.templating.paths.exceptions
    import openapi_core.templating.responses.exceptions
    import openapi_core.templating.responses.finders
    import openapi_core.validation.request.exceptions  # noqa: F401
    import openapi_schema_validator  # noqa: F401
    import werkzeug.datastructures  # noqa: F401


class _Request:
    """The request protocol openapi-core reads (a plain object: no web framework in between)."""

    def __init__(self, path: str, method: str, query: Sequence[tuple[str, str]], headers: Mapping[str, str]):
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        self.host_url = "http://spotify.invalid"
        self.path = path
        self.method = method.lower()
        self.body: bytes | None = None
        self.content_type = "application/json"
        self.parameters = RequestParameters(query=ImmutableMultiDict(list(query)), header=Headers(dict(headers)))


class _Response:
    def __init__(self, status: int, data: bytes, content_type: str, headers: Mapping[str, str]):
        from werkzeug.datastructures import Headers

        self.status_code = status
        self.data = data
        self.content_type = content_type
        self.headers = Headers(dict(headers))


class SpecValidator:
    """Requests and responses against the spec (the whole spec, or only the paths an emulator serves).

    Building the validator takes about a second, so it is built once, on first use or in the background
    (`warm_up`), never at import time.
    """

    def __init__(self, spec: dict[str, Any] | None = None, paths: Iterable[str] | None = None):
        full = documented_constraints(spec if spec is not None else load_spec())
        self._spec = served_subset(full, paths) if paths is not None else full
        # The spec's servers name api.spotify.com; any host may serve it (the emulator, a proxy).
        self._spec["servers"] = [{"url": "/v1"}]
        self._lock = threading.Lock()
        self._api: Any = None
        self._params: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._memo: dict[tuple, Problem | None] = {}
        self._path_validators: dict[tuple[str, str], Any] = {}
        for template, item in self._spec["paths"].items():
            for method, op in item.items():
                if method in ("get", "put", "post", "delete", "patch"):
                    both = item.get("parameters", []) + op.get("parameters", [])
                    declared = [_resolve(self._spec, p) for p in both]
                    self._params[(method, template)] = {p["name"]: p for p in declared}

    @property
    def api(self) -> Any:
        with self._lock:
            if self._api is None:
                from openapi_core import OpenAPI

                self._api = OpenAPI.from_dict(self._spec)
            return self._api

    def warm_up(self) -> threading.Thread:
        """Build the validator in the background. The modules are imported here, in the caller's thread: an import
        in a background thread can race the caller's own imports of shared packages (werkzeug) and break both."""
        import_validation_modules()
        thread = threading.Thread(target=lambda: self.api, name="spec-validator-warm-up", daemon=True)
        thread.start()
        return thread

    @property
    def templates(self) -> list[str]:
        return list(self._spec["paths"])

    def declared(self, method: str, template: str) -> dict[str, dict[str, Any]]:
        """The parameters (by name) the spec declares for one operation."""
        return self._params[(method.lower(), template)]

    def check_request(self, method: str, template: str, path: str, query: Sequence[tuple[str, str]],
                      headers: Mapping[str, str] | None = None) -> Problem | None:
        """None when the request is valid; else the answer Spotify gives. `path` is the concrete `/v1/...` path,
        `template` the spec path it was routed to (e.g. `/artists/{id}/albums`)."""
        api = self.api  # first: builds (and imports openapi-core) under the lock, so no import race with warm_up
        declared = self._params.get((method.lower(), template))
        if declared is None:
            return Problem(405, "Method not allowed") if any(t == template for _, t in self._params) else Problem(
                404, "Service not found")
        names = [name for name, _ in query]
        for name in names:
            if name not in declared or declared[name].get("in") != "query":
                return Problem(400, f"Unknown parameter: {name}")
            if names.count(name) > 1:
                return Problem(400, f"Invalid {name}")
        if "after" in names and "before" in names:  # the spec: "If after is specified, before must not be"
            return Problem(400, "Only one of after and before may be specified")
        # openapi-core spends ~10 ms per request resolving the spec; a crawl sends hundreds that differ only in
        # a path id. Parameters are validated one by one, so once openapi-core has judged an operation with one
        # query, another request with the same query whose path values pass the same spec schemas (checked here
        # by openapi-schema-validator, the validator openapi-core uses) gets the same verdict.
        memo_key = self._memo_key(method, template, path, query, declared)
        if memo_key is not None and memo_key in self._memo:
            return self._memo[memo_key]
        problem = self._validate_request(api, method, path, query, headers, dict(query))
        if memo_key is not None:
            with self._lock:
                if len(self._memo) >= MEMO_SIZE:
                    self._memo.clear()
                self._memo[memo_key] = problem
        return problem

    def _memo_key(self, method: str, template: str, path: str, query: Sequence[tuple[str, str]],
                  declared: dict[str, dict[str, Any]]) -> tuple | None:
        """(method, template, query) when every path value of `path` is valid by its spec schema, else None (the
        full validation then names what is wrong). Header parameters are never memoised."""
        if any(p.get("in") == "header" for p in declared.values()):
            return None
        concrete = path.split("/")
        pattern = ("/v1" + template).split("/")
        if len(concrete) != len(pattern):
            return None
        for part, value in zip(pattern, concrete, strict=True):
            if part.startswith("{") and part.endswith("}"):
                if not self._path_value_valid(template, part[1:-1], value, declared):
                    return None
            elif part != value:
                return None
        return (method.lower(), template, tuple(query))

    def _path_value_valid(self, template: str, name: str, value: str, declared: dict[str, dict[str, Any]]) -> bool:
        key = (template, name)
        validator = self._path_validators.get(key)
        if validator is None:
            from openapi_schema_validator import OAS30Validator

            param = declared.get(name)
            if param is None or param.get("in") != "path" or "schema" not in param:
                return False
            validator = OAS30Validator(_resolve(self._spec, param["schema"]))
            self._path_validators[key] = validator
        # An escaped value is left to openapi-core, which decodes it.
        return bool(value) and "%" not in value and validator.is_valid(value)

    def _validate_request(self, api: Any, method: str, path: str, query: Sequence[tuple[str, str]],
                          headers: Mapping[str, str] | None, query_map: dict[str, str]) -> Problem | None:
        from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
        from openapi_core.validation.request.exceptions import (
            MissingRequiredParameter,
            ParameterValidationError,
            SecurityValidationError,
        )

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Unsupported scheme type": oauth2 is checked by us
            try:
                api.validate_request(_Request(path, method, query, headers or {}))
            except (PathNotFound, OperationNotFound):
                return Problem(404, "Service not found")
            except MissingRequiredParameter as exc:
                return Problem(400, MISSING_MESSAGES.get(exc.name, f"Missing parameter {exc.name}"))
            except ParameterValidationError as exc:
                return Problem(400, self._invalid(exc.name, exc.location, query_map))
            except SecurityValidationError:
                return None  # bearer tokens are the emulator's to check, with Spotify's 401 texts
        return None

    @staticmethod
    def _invalid(name: str, location: str, query: dict[str, str]) -> str:
        if location == "path" or name == "ids":
            ids = query.get("ids", "").split(",") if name == "ids" else []
            if len(ids) > 1 and all(re.fullmatch(BASE62_ID, i) for i in ids):
                return "Too many ids requested"
            return "Invalid base62 id"
        if name == "type":
            bad = [t for t in query.get("type", "").split(",")
                   if t not in ("album", "artist", "playlist", "track", "show", "episode", "audiobook")]
            return f"Bad search type field {','.join(bad)}".strip()
        return INVALID_MESSAGES.get(name, f"Invalid {name}")

    def check_response(self, method: str, path: str, query: Sequence[tuple[str, str]], status: int, body: bytes,
                       headers: Mapping[str, str] | None = None) -> str | None:
        """None when the answer conforms: a documented status with a body of its schema, or an undocumented error
        status with Spotify's error object. Otherwise what is wrong."""
        api = self.api
        from openapi_core.exceptions import OpenAPIError
        from openapi_core.templating.responses.exceptions import ResponseNotFound

        request = _Request(path, method, query, {})
        response = _Response(status, body, "application/json", headers or {})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            try:
                api.validate_response(request, response)
                return None
            except ResponseNotFound:
                return self._error_body_problem(status, body)
            except OpenAPIError as exc:  # every validation error: report it, with the schema errors behind it
                cause = exc.__cause__
                errors = list(getattr(cause, "schema_errors", None) or [])
                if not errors:
                    return f"{type(exc).__name__}: {str(exc)[:300]}"
                return f"{type(exc).__name__}: " + "; ".join(_brief(e) for e in errors[:5])

    def _error_body_problem(self, status: int, body: bytes) -> str | None:
        if status < 400:
            return f"status {status} is not documented for this operation"
        from openapi_schema_validator import OAS30Validator

        try:
            data = json.loads(body)
        except ValueError:
            return f"status {status}: the body is not JSON"
        schema = {**ERROR_WRAPPER, "components": self._spec["components"]}
        errors = [e.message for e in OAS30Validator(schema).iter_errors(data)]
        if errors:
            return f"status {status}: not Spotify's error object: {'; '.join(errors)}"
        if data["error"]["status"] != status:
            return f"status {status}: the error object says {data['error']['status']}"
        return None
