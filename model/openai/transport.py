"""HTTP to an OpenAI-compatible server: JSON POST/GET with timeouts, bounded retries with backoff, clear errors.

Retried: 429, 5xx and refused connections (a server that is restarting), with exponential backoff that honours
`Retry-After`. Not retried: other 4xx (the request itself is wrong; the server's message is quoted) and timeouts
(a slow server stays slow; raise `timeout_s`). The API key goes only into the Authorization header: it is never
logged and never part of an error message.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from codeward.model.base import EngineError

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 8.0
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def normalise_base_url(url: str) -> str:
    """Strip a trailing slash; a bare `http://host:port` gets the usual `/v1` path."""
    url = url.strip().rstrip("/")
    if not url:
        raise EngineError("the openai engine needs the server's base URL: pass --base-url "
                          "(e.g. http://127.0.0.1:8000/v1) or set [engine] base_url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise EngineError(f"base URL {url!r} is not an http(s) URL; use e.g. http://127.0.0.1:8000/v1")
    return url if parts.path not in ("", "/") else url + "/v1"


def server_message(response: httpx.Response) -> str:
    """The server's own explanation of an error: OpenAI/vLLM `error.message`, FastAPI `detail`, or the text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:500]
        if error:
            return str(error)[:500]
        if body.get("detail"):
            return str(body["detail"])[:500]
        if body.get("message"):
            return str(body["message"])[:500]
    return str(body)[:500]


class ServerClient:
    """A thread-safe JSON client for one server, with the retry policy above."""

    def __init__(self, base_url: str, api_key: str | None, timeout_s: float, max_retries: int) -> None:
        self.base_url = normalise_base_url(base_url)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._api_key = api_key or ""
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self._http = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout_s))

    def root_url(self) -> str:
        """The server root (the base URL without its trailing `/v1`), where vLLM serves `/tokenize`."""
        return self.base_url.removesuffix("/v1")

    def request(self, method: str, path: str, body: dict[str, Any] | None = None, root: bool = False
                ) -> dict[str, Any]:
        """Send one request (retried per the policy) and return the decoded JSON object."""
        url = (self.root_url() if root else self.base_url) + path
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = self._http.request(method, url, json=body)
            except httpx.TimeoutException:
                raise EngineError(f"the server at {url} did not answer within {self.timeout_s:g} s; raise "
                                  "[engine] timeout_s or ask for fewer tokens") from None
            except httpx.TransportError as exc:
                if last:
                    raise EngineError(f"cannot reach the OpenAI-compatible server at {url} ({exc}) after "
                                      f"{attempt + 1} attempts; is it running? start it or fix --base-url") from None
                self._wait(attempt, None, f"connection failed ({exc})")
                continue
            if response.status_code < 400:
                return self._json(response, url)
            if response.status_code not in RETRY_STATUS:
                raise EngineError(f"the server at {url} rejected the request (HTTP {response.status_code}): "
                                  f"{self._redact(server_message(response))}")
            if last:
                raise EngineError(f"the server at {url} kept failing (HTTP {response.status_code}) after "
                                  f"{attempt + 1} attempts: {self._redact(server_message(response))}; "
                                  "check the server's log")
            self._wait(attempt, response.headers.get("retry-after"), f"HTTP {response.status_code}")
        raise AssertionError("unreachable: the retry loop always returns or raises")

    def _redact(self, text: str) -> str:
        """`text` with the API key masked: a server may quote the key it rejected (e.g. on HTTP 401)."""
        return text.replace(self._api_key, "***") if self._api_key else text

    @staticmethod
    def _json(response: httpx.Response, url: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise EngineError(f"the server at {url} answered with something that is not JSON: "
                              f"{response.text[:200]!r}; is --base-url an OpenAI-compatible API?") from None
        if not isinstance(body, dict):
            raise EngineError(f"the server at {url} answered {str(body)[:200]!r}, not a JSON object")
        return body

    @staticmethod
    def _wait(attempt: int, retry_after: str | None, why: str) -> None:
        """Exponential backoff, or the server's Retry-After (in seconds) when it gives one, capped."""
        delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** attempt)
        if retry_after:
            try:
                delay = min(BACKOFF_MAX_S, max(0.0, float(retry_after)))
            except ValueError:
                log.debug("ignoring a Retry-After that is not a number of seconds: %r", retry_after)
        log.warning("OpenAI-compatible server: %s; retry %d in %.1f s", why, attempt + 1, delay)
        time.sleep(delay)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()
