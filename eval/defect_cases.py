"""The cases of the ``classic-defects`` dataset: thirteen small projects as source text.

Each ``Case`` is a base tree and the files a change adds or rewrites, with the golden
issues that change introduces, located by a marker text (``eval/build_dataset.py``
turns markers into line numbers and checks them). The code is written for this
dataset; the defect classes are the well-known ones public bug trackers and CVE
databases are full of. Data, not logic: long by nature.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Golden:
    path: str
    marker: str  # text on the first line; must occur exactly once in the head file
    description: str
    severity: str
    lines: int = 1  # how many lines the issue spans, from the marker's line


@dataclass(frozen=True)
class Case:
    id: str
    description: str  # what the change does and which defect class it carries (for people)
    base: Mapping[str, str]
    head: Mapping[str, str]  # files the change adds or rewrites (full new content)
    golden: tuple[Golden, ...] = ()
    meta: Mapping[str, str] = field(default_factory=dict)


def src(text: str) -> str:
    """A source file from an indented triple-quoted string."""
    return textwrap.dedent(text).lstrip("\n")


def method(text: str) -> str:
    """A method to append to a class body: one blank line, then the code indented once."""
    return "\n" + textwrap.indent(src(text), "    ")


def top_level(text: str) -> str:
    """A top-level definition to append to a module: two blank lines, then the code."""
    return "\n\n" + src(text)


def go(text: str) -> str:
    """Go source: written with 4-space indents here, tabs in the file (gofmt style)."""
    lines = src(text).splitlines(keepends=True)
    return "".join(
        "\t" * ((len(line) - len(line.lstrip(" "))) // 4) + line.lstrip(" ") for line in lines
    )


# ----------------------------------------------------------------------------- cases

PAGINATION_BASE = src('''
    """Listing endpoints of the catalogue service."""

    from __future__ import annotations

    from dataclasses import dataclass
    from typing import Any

    DEFAULT_PAGE_SIZE = 20
    MAX_PAGE_SIZE = 100


    @dataclass(frozen=True)
    class Page:
        items: list[Any]
        page: int
        per_page: int
        total: int

        @property
        def pages(self) -> int:
            return max(1, -(-self.total // self.per_page))


    def clamp_page_size(requested: str | None) -> int:
        if requested is None:
            return DEFAULT_PAGE_SIZE
        return max(1, min(int(requested), MAX_PAGE_SIZE))


    def list_products(store: Any, query: dict[str, str]) -> dict[str, Any]:
        products = store.all_products()
        return {"items": [p.to_dict() for p in products], "total": len(products)}
''')

PAGINATION_HEAD = src('''
    """Listing endpoints of the catalogue service."""

    from __future__ import annotations

    from dataclasses import dataclass
    from typing import Any

    DEFAULT_PAGE_SIZE = 20
    MAX_PAGE_SIZE = 100


    @dataclass(frozen=True)
    class Page:
        items: list[Any]
        page: int
        per_page: int
        total: int

        @property
        def pages(self) -> int:
            return max(1, -(-self.total // self.per_page))


    def clamp_page_size(requested: str | None) -> int:
        if requested is None:
            return DEFAULT_PAGE_SIZE
        return max(1, min(int(requested), MAX_PAGE_SIZE))


    def paginate(items: list[Any], page: int, per_page: int) -> Page:
        """The 1-based ``page`` of ``items``, ``per_page`` items long."""
        if page < 1:
            raise ValueError("page numbers start at 1")
        start = page * per_page
        return Page(items=items[start : start + per_page], page=page, per_page=per_page, total=len(items))


    def list_products(store: Any, query: dict[str, str]) -> dict[str, Any]:
        products = store.all_products()
        per_page = clamp_page_size(query.get("per_page"))
        result = paginate(products, int(query.get("page", "1")), per_page)
        return {
            "items": [p.to_dict() for p in result.items],
            "page": result.page,
            "pages": result.pages,
            "total": result.total,
        }
''')

USERS_REPO_BASE = src('''
    """Persistence for user accounts (sqlite3)."""

    from __future__ import annotations

    import sqlite3
    from typing import Any

    COLUMNS = ("id", "email", "display_name")


    def _row(row: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(COLUMNS, row, strict=True))


    class UserRepository:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self._conn = conn

        def get(self, user_id: int) -> dict[str, Any] | None:
            row = self._conn.execute(
                "SELECT id, email, display_name FROM users WHERE id = ?", (user_id,)
            ).fetchone()
            return None if row is None else _row(row)

        def deactivate(self, user_id: int) -> None:
            with self._conn:
                self._conn.execute("UPDATE users SET active = 0 WHERE id = ?", (user_id,))
''')

USERS_REPO_HEAD = src('''
    """Persistence for user accounts (sqlite3)."""

    from __future__ import annotations

    import sqlite3
    from typing import Any

    COLUMNS = ("id", "email", "display_name")


    def _row(row: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(COLUMNS, row, strict=True))


    class UserRepository:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self._conn = conn

        def get(self, user_id: int) -> dict[str, Any] | None:
            row = self._conn.execute(
                "SELECT id, email, display_name FROM users WHERE id = ?", (user_id,)
            ).fetchone()
            return None if row is None else _row(row)

        def search(self, term: str, limit: int = 50) -> list[dict[str, Any]]:
            """Active users whose e-mail or display name starts with ``term``."""
            sql = (
                "SELECT id, email, display_name FROM users WHERE active = 1 "
                f"AND (email LIKE '{term}%' OR display_name LIKE '{term}%') "
                "ORDER BY display_name LIMIT ?"
            )
            return [_row(row) for row in self._conn.execute(sql, (limit,)).fetchall()]

        def deactivate(self, user_id: int) -> None:
            with self._conn:
                self._conn.execute("UPDATE users SET active = 0 WHERE id = ?", (user_id,))
''')

USERS_API_BASE = src('''
    """HTTP handlers for /users."""

    from __future__ import annotations

    from typing import Any

    from app.users import UserRepository


    def get_user(repo: UserRepository, user_id: str) -> tuple[int, dict[str, Any]]:
        if not user_id.isdigit():
            return 400, {"error": "user id must be a number"}
        user = repo.get(int(user_id))
        if user is None:
            return 404, {"error": "no such user"}
        return 200, user
''')

USERS_API_HEAD = USERS_API_BASE + top_level("""
    def search_users(repo: UserRepository, args: dict[str, str]) -> tuple[int, dict[str, Any]]:
        term = args.get("q", "").strip()
        if len(term) < 2:
            return 400, {"error": "search needs at least two characters"}
        return 200, {"users": repo.search(term)}
""")

ORDERS_DB = src('''
    """Order storage. Every call goes to the database: all methods are coroutines."""

    from __future__ import annotations

    from typing import Any


    class OrderStore:
        def __init__(self, pool: Any) -> None:
            self._pool = pool

        async def insert_order(self, customer_id: str, lines: list[dict[str, Any]]) -> str:
            async with self._pool.acquire() as conn:
                return await conn.fetchval(
                    "INSERT INTO orders (customer_id, lines, status) VALUES ($1, $2, 'placed') "
                    "RETURNING id",
                    customer_id,
                    lines,
                )

        async def get_order(self, order_id: str) -> dict[str, Any] | None:
            async with self._pool.acquire() as conn:
                row = await conn.fetchrow("SELECT * FROM orders WHERE id = $1", order_id)
                return dict(row) if row is not None else None

        async def set_status(self, order_id: str, status: str) -> None:
            async with self._pool.acquire() as conn:
                await conn.execute("UPDATE orders SET status = $2 WHERE id = $1", order_id, status)

        async def refund(self, order_id: str, amount_cents: int) -> None:
            async with self._pool.acquire() as conn:
                await conn.execute(
                    "INSERT INTO refunds (order_id, amount_cents) VALUES ($1, $2)",
                    order_id,
                    amount_cents,
                )
''')

ORDERS_SERVICE_BASE = src('''
    """Order workflow: validation, persistence and notifications."""

    from __future__ import annotations

    import logging
    from typing import Any

    from shop.db import OrderStore

    log = logging.getLogger(__name__)


    class OrderService:
        def __init__(self, store: OrderStore, mailer: Any) -> None:
            self._store = store
            self._mailer = mailer

        async def place(self, customer_id: str, lines: list[dict[str, Any]]) -> str:
            if not lines:
                raise ValueError("an order needs at least one line")
            order_id = await self._store.insert_order(customer_id, lines)
            await self._mailer.send_confirmation(customer_id, order_id)
            log.info("order %s placed for %s", order_id, customer_id)
            return order_id
''')

ORDERS_SERVICE_HEAD = ORDERS_SERVICE_BASE + method('''
        async def cancel(self, order_id: str, reason: str) -> None:
            """Cancel an order that has not shipped yet and refund what was paid."""
            order = await self._store.get_order(order_id)
            if order is None:
                raise KeyError(order_id)
            if order["status"] == "shipped":
                raise ValueError("a shipped order cannot be cancelled")
            await self._store.set_status(order_id, "cancelled")
            self._store.refund(order_id, order["total_cents"])
            await self._mailer.send_cancellation(order["customer_id"], order_id, reason)
            log.info("order %s cancelled: %s", order_id, reason)
''')

EXPORT_BASE = src('''
    """CSV export of monthly reports."""

    from __future__ import annotations

    import csv
    from collections.abc import Iterable, Mapping
    from typing import IO, Any

    FIELDS = ("date", "account", "description", "amount")


    def write_csv(rows: Iterable[Mapping[str, Any]], handle: IO[str]) -> int:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        count = 0
        for row in rows:
            writer.writerow(row)
            count += 1
        return count


    def export(rows: Iterable[Mapping[str, Any]], path: str) -> int:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            return write_csv(rows, handle)
''')

EXPORT_HEAD = src('''
    """CSV export of monthly reports."""

    from __future__ import annotations

    import csv
    import os
    import tempfile
    from collections.abc import Iterable, Mapping
    from typing import IO, Any

    FIELDS = ("date", "account", "description", "amount")


    def write_csv(rows: Iterable[Mapping[str, Any]], handle: IO[str]) -> int:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        count = 0
        for row in rows:
            writer.writerow(row)
            count += 1
        return count


    def export(rows: Iterable[Mapping[str, Any]], path: str) -> int:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            return write_csv(rows, handle)


    def export_for_download(rows: Iterable[Mapping[str, Any]]) -> str:
        """Write the report to a private temporary file and return its path.

        The download handler streams the file and deletes it afterwards.
        """
        path = tempfile.mktemp(prefix="report-", suffix=".csv")
        with open(path, "w", newline="", encoding="utf-8") as handle:
            write_csv(rows, handle)
        os.chmod(path, 0o600)
        return path
''')

TAGS_BASE = src('''
    """Tags on catalogue items."""

    from __future__ import annotations

    MAX_TAG_LENGTH = 32


    def valid_tag(tag: str) -> bool:
        return 0 < len(tag) <= MAX_TAG_LENGTH and tag.replace("-", "").isalnum()
''')

TAGS_HEAD = TAGS_BASE + top_level('''
    def normalise_tags(raw: list[str], seen: list[str] = []) -> list[str]:
        """Lower-case, strip and de-duplicate tags, keeping the first-seen order."""
        result = []
        for tag in raw:
            tag = tag.strip().lower()
            if valid_tag(tag) and tag not in seen:
                seen.append(tag)
                result.append(tag)
        return result


    def tag_item(item: dict[str, object], raw_tags: list[str]) -> dict[str, object]:
        return {**item, "tags": normalise_tags(raw_tags)}
''')

MIDDLEWARE_BASE = src('''
    """Request helpers shared by the API handlers."""

    from __future__ import annotations

    from collections.abc import Mapping


    class HTTPError(Exception):
        status = 500

        def __init__(self, message: str) -> None:
            super().__init__(message)
            self.message = message


    class BadRequest(HTTPError):
        status = 400


    def require_header(headers: Mapping[str, str], name: str) -> str:
        value = headers.get(name.lower())
        if value is None:
            raise BadRequest(f"missing header {name}")
        return value
''')

MIDDLEWARE_HEAD = src('''
    """Request helpers shared by the API handlers."""

    from __future__ import annotations

    import json
    from collections.abc import Mapping
    from typing import Any


    class HTTPError(Exception):
        status = 500

        def __init__(self, message: str) -> None:
            super().__init__(message)
            self.message = message


    class BadRequest(HTTPError):
        status = 400


    class UnsupportedMediaType(HTTPError):
        status = 415


    def require_header(headers: Mapping[str, str], name: str) -> str:
        value = headers.get(name.lower())
        if value is None:
            raise BadRequest(f"missing header {name}")
        return value


    def media_type(headers: Mapping[str, str]) -> str:
        """The media type of the body, without parameters: "application/json"."""
        value = headers.get("content-type")
        return value.split(";", 1)[0].strip().lower()


    def json_body(headers: Mapping[str, str], body: bytes) -> Any:
        if media_type(headers) != "application/json":
            raise UnsupportedMediaType("send the body as application/json")
        try:
            return json.loads(body)
        except ValueError as exc:
            raise BadRequest(f"invalid JSON: {exc}") from exc
''')

IMAGE_H = src("""
    #ifndef THUMBS_IMAGE_H
    #define THUMBS_IMAGE_H

    #include <stddef.h>
    #include <stdint.h>
    #include <stdio.h>

    struct image {
        uint32_t width;
        uint32_t height;
        uint32_t channels;
        uint8_t *pixels;
    };

    struct image *image_alloc(uint32_t width, uint32_t height, uint32_t channels);
    void image_free(struct image *img);
    struct image *image_read_raw(FILE *in);

    #endif
""")

IMAGE_BASE = src("""
    #include <stdlib.h>
    #include <string.h>

    #include "image.h"

    #define MAX_CHANNELS 4

    void image_free(struct image *img)
    {
        if (!img)
            return;
        free(img->pixels);
        free(img);
    }
""")

IMAGE_HEAD = src("""
    #include <stdlib.h>
    #include <string.h>

    #include "image.h"

    #define MAX_CHANNELS 4

    struct image *image_alloc(uint32_t width, uint32_t height, uint32_t channels)
    {
        if (width == 0 || height == 0 || channels == 0 || channels > MAX_CHANNELS)
            return NULL;
        struct image *img = malloc(sizeof *img);
        if (!img)
            return NULL;
        uint32_t size = width * height * channels;
        img->pixels = malloc(size);
        if (!img->pixels) {
            free(img);
            return NULL;
        }
        img->width = width;
        img->height = height;
        img->channels = channels;
        return img;
    }

    void image_free(struct image *img)
    {
        if (!img)
            return;
        free(img->pixels);
        free(img);
    }

    static int read_u32(FILE *in, uint32_t *out)
    {
        uint8_t b[4];
        if (fread(b, 1, sizeof b, in) != sizeof b)
            return -1;
        *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        return 0;
    }

    /* Raw format: big-endian width, height, channels, then the pixel rows. */
    struct image *image_read_raw(FILE *in)
    {
        uint32_t width, height, channels;
        if (read_u32(in, &width) || read_u32(in, &height) || read_u32(in, &channels))
            return NULL;
        struct image *img = image_alloc(width, height, channels);
        if (!img)
            return NULL;
        size_t row = (size_t)width * channels;
        for (uint32_t y = 0; y < height; y++) {
            if (fread(img->pixels + (size_t)y * row, 1, row, in) != row) {
                image_free(img);
                return NULL;
            }
        }
        return img;
    }
""")

STATIC_BASE = src('''
    """Serves the files under the static root for the development server."""

    from __future__ import annotations

    import mimetypes
    import os


    class StaticFiles:
        def __init__(self, root: str) -> None:
            self.root = os.path.realpath(root)

        def content_type(self, path: str) -> str:
            guessed, _ = mimetypes.guess_type(path)
            return guessed or "application/octet-stream"
''')

STATIC_HEAD = src('''
    """Serves the files under the static root for the development server."""

    from __future__ import annotations

    import mimetypes
    import os
    from urllib.parse import unquote

    PREFIX = "/static/"


    class StaticFiles:
        def __init__(self, root: str) -> None:
            self.root = os.path.realpath(root)

        def content_type(self, path: str) -> str:
            guessed, _ = mimetypes.guess_type(path)
            return guessed or "application/octet-stream"

        def resolve(self, url_path: str) -> str | None:
            """The file a /static/ URL names, or None when there is no such file."""
            if not url_path.startswith(PREFIX):
                return None
            relative = unquote(url_path[len(PREFIX) :])
            full = os.path.join(self.root, relative)
            return full if os.path.isfile(full) else None

        def respond(self, url_path: str) -> tuple[int, dict[str, str], bytes]:
            path = self.resolve(url_path)
            if path is None:
                return 404, {"content-type": "text/plain"}, b"not found"
            with open(path, "rb") as handle:
                body = handle.read()
            return 200, {"content-type": self.content_type(path)}, body
''')

PAYMENTS_BASE = src('''
    """Invoice payments through the card gateway."""

    from __future__ import annotations

    import logging
    from dataclasses import dataclass
    from typing import Any

    log = logging.getLogger(__name__)


    class GatewayError(Exception):
        """The gateway declined or could not process a request."""


    @dataclass
    class Invoice:
        id: str
        amount_cents: int
        payment_intent: str
        status: str = "open"


    class Payments:
        def __init__(self, gateway: Any, store: Any) -> None:
            self._gateway = gateway
            self._store = store

        def authorise(self, invoice: Invoice) -> None:
            self._gateway.authorise(invoice.payment_intent, invoice.amount_cents)
            invoice.status = "authorised"
            self._store.save(invoice)
''')

PAYMENTS_HEAD = PAYMENTS_BASE + method('''
        def capture(self, invoice: Invoice) -> None:
            """Collect an authorised payment and mark the invoice paid."""
            if invoice.status != "authorised":
                raise ValueError(f"invoice {invoice.id} is {invoice.status}, not authorised")
            try:
                self._gateway.capture(invoice.payment_intent, invoice.amount_cents)
            except Exception:
                log.debug("capture of %s did not go through", invoice.id)
            invoice.status = "paid"
            self._store.save(invoice)
''')

STATS_BASE = go("""
    package api

    import (
        "encoding/json"
        "net/http"
    )

    // Server routes API requests to handlers.
    type Server struct {
        mux *http.ServeMux
    }

    func NewServer() *Server {
        s := &Server{mux: http.NewServeMux()}
        s.mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
            w.WriteHeader(http.StatusNoContent)
        })
        return s
    }

    func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
        s.mux.ServeHTTP(w, r)
    }

    func writeJSON(w http.ResponseWriter, status int, v any) {
        w.Header().Set("Content-Type", "application/json")
        w.WriteHeader(status)
        _ = json.NewEncoder(w).Encode(v)
    }
""")

STATS_HEAD = go("""
    package api

    import (
        "encoding/json"
        "net/http"
    )

    // Stats counts the requests the server has answered.
    type Stats struct {
        Requests int `json:"requests"`
        Errors   int `json:"errors"`
    }

    // Server routes API requests to handlers.
    type Server struct {
        mux   *http.ServeMux
        stats Stats
    }

    func NewServer() *Server {
        s := &Server{mux: http.NewServeMux()}
        s.mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
            w.WriteHeader(http.StatusNoContent)
        })
        s.mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
            writeJSON(w, http.StatusOK, s.stats)
        })
        return s
    }

    type statusRecorder struct {
        http.ResponseWriter
        status int
    }

    func (r *statusRecorder) WriteHeader(status int) {
        r.status = status
        r.ResponseWriter.WriteHeader(status)
    }

    func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
        rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
        s.mux.ServeHTTP(rec, r)
        s.record(rec.status)
    }

    func (s *Server) record(status int) {
        s.stats.Requests++
        if status >= 500 {
            s.stats.Errors++
        }
    }

    func writeJSON(w http.ResponseWriter, status int, v any) {
        w.Header().Set("Content-Type", "application/json")
        w.WriteHeader(status)
        _ = json.NewEncoder(w).Encode(v)
    }
""")

WEBHOOKS_BASE = src('''
    """Outgoing webhooks: deliver events to the URLs customers register."""

    from __future__ import annotations

    import json
    import logging
    from typing import Any

    import requests

    log = logging.getLogger(__name__)
    TIMEOUT_S = 10


    class WebhookClient:
        def __init__(self, session: requests.Session | None = None) -> None:
            self._session = session or requests.Session()

        def deliver(self, url: str, event: dict[str, Any]) -> bool:
            body = json.dumps(event, separators=(",", ":")).encode()
            response = self._session.post(
                url, data=body, headers={"content-type": "application/json"}, timeout=TIMEOUT_S
            )
            if response.status_code >= 300:
                log.warning("webhook %s answered %s", url, response.status_code)
                return False
            return True
''')

WEBHOOKS_HEAD = src('''
    """Outgoing webhooks: deliver signed events to the URLs customers register,
    and check the signatures on the callbacks they send back."""

    from __future__ import annotations

    import hashlib
    import hmac
    import json
    import logging
    from typing import Any

    import requests

    log = logging.getLogger(__name__)
    TIMEOUT_S = 10


    def sign(secret: bytes, body: bytes) -> str:
        return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


    def signature_valid(secret: bytes, body: bytes, header: str) -> bool:
        """Whether ``header`` (X-Signature of a callback) signs ``body`` with ``secret``."""
        return header == sign(secret, body)


    class WebhookClient:
        def __init__(self, secret: bytes, session: requests.Session | None = None) -> None:
            self._secret = secret
            self._session = session or requests.Session()

        def deliver(self, url: str, event: dict[str, Any]) -> bool:
            body = json.dumps(event, separators=(",", ":")).encode()
            headers = {"content-type": "application/json", "x-signature": sign(self._secret, body)}
            # Some customers run their receivers with self-signed certificates.
            response = self._session.post(
                url, data=body, headers=headers, timeout=TIMEOUT_S, verify=False
            )
            if response.status_code >= 300:
                log.warning("webhook %s answered %s", url, response.status_code)
                return False
            return True
''')

RETRY_BASE = src('''
    """Fetches exchange rates from the upstream provider."""

    from __future__ import annotations

    import time
    from typing import Any

    import requests


    def fetch_rates(session: requests.Session, base: str) -> dict[str, Any]:
        for attempt in range(3):
            try:
                response = session.get(
                    "https://rates.example.com/v1/latest", params={"base": base}, timeout=5
                )
                response.raise_for_status()
                return response.json()["rates"]
            except requests.RequestException:
                if attempt == 2:
                    raise
                time.sleep(2**attempt)
        raise AssertionError("unreachable")
''')

RETRY_HEAD = src('''
    """Fetches exchange rates from the upstream provider."""

    from __future__ import annotations

    import time
    from typing import Any

    import requests

    RATES_URL = "https://rates.example.com/v1/latest"
    ATTEMPTS = 3
    TIMEOUT_S = 5
    # Upstream answers 429 and 503 under load; everything else is not worth retrying.
    RETRY_STATUSES = frozenset({429, 503})


    def _retryable(exc: requests.RequestException) -> bool:
        if isinstance(exc, requests.HTTPError) and exc.response is not None:
            return exc.response.status_code in RETRY_STATUSES
        return isinstance(exc, (requests.ConnectionError, requests.Timeout))


    def fetch_rates(session: requests.Session, base: str) -> dict[str, Any]:
        """Latest rates for ``base``; retries transient failures with exponential backoff."""
        for attempt in range(ATTEMPTS):
            try:
                response = session.get(RATES_URL, params={"base": base}, timeout=TIMEOUT_S)
                response.raise_for_status()
                return response.json()["rates"]
            except requests.RequestException as exc:
                if attempt == ATTEMPTS - 1 or not _retryable(exc):
                    raise
                time.sleep(2**attempt)
        raise AssertionError("unreachable")
''')

SLUG_BASE = src('''
    """Text helpers for the blog."""

    from __future__ import annotations

    import re

    _SPACES = re.compile(r"\\s+")


    def collapse_spaces(text: str) -> str:
        return _SPACES.sub(" ", text).strip()
''')

SLUG_HEAD = src('''
    """Text helpers for the blog."""

    from __future__ import annotations

    import re
    import unicodedata

    _SPACES = re.compile(r"\\s+")
    _NOT_SLUG = re.compile(r"[^a-z0-9]+")
    MAX_SLUG_LENGTH = 60


    def collapse_spaces(text: str) -> str:
        return _SPACES.sub(" ", text).strip()


    def slugify(title: str) -> str:
        """A URL slug: ASCII letters and digits joined by single hyphens, at most 60 long."""
        ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
        slug = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
        return slug[:MAX_SLUG_LENGTH].rstrip("-") or "post"
''')

SLUG_TESTS = src("""
    from blog.text import collapse_spaces, slugify


    def test_collapse_spaces() -> None:
        assert collapse_spaces("  a \\t b\\n") == "a b"


    def test_slugify() -> None:
        assert slugify("Hello, World!") == "hello-world"
        assert slugify("Crème brûlée") == "creme-brulee"
        assert slugify("???") == "post"
        assert len(slugify("word " * 40)) <= 60
""")

CASES: tuple[Case, ...] = (
    Case(
        id="catalogue-pagination",
        description="Adds page/per_page to the product listing. The page helper takes "
        "1-based page numbers but computes the slice start as page * per_page, so page 1 "
        "skips the first page of results (off-by-one).",
        base={"catalogue/listing.py": PAGINATION_BASE},
        head={"catalogue/listing.py": PAGINATION_HEAD},
        golden=(
            Golden(
                "catalogue/listing.py",
                "start = page * per_page",
                "Pages are 1-based but the slice starts at page * per_page: page 1 skips the "
                "first per_page items and the final page comes back empty; the start must be "
                "(page - 1) * per_page.",
                "high",
            ),
        ),
        meta={"class": "off-by-one", "language": "python", "cwe": "CWE-193"},
    ),
    Case(
        id="user-search",
        description="Adds a user search endpoint. The repository builds the LIKE clause by "
        "formatting the search term into the SQL text (SQL injection).",
        base={"app/users.py": USERS_REPO_BASE, "app/api.py": USERS_API_BASE},
        head={"app/users.py": USERS_REPO_HEAD, "app/api.py": USERS_API_HEAD},
        golden=(
            Golden(
                "app/users.py",
                "f\"AND (email LIKE '{term}%'",
                "The search term from the query string is formatted into the SQL text, so a "
                "quote in it rewrites the query (SQL injection); bind it as a parameter "
                "(LIKE ? with term + '%', escaping % and _).",
                "critical",
            ),
        ),
        meta={"class": "sql-injection", "language": "python", "cwe": "CWE-89"},
    ),
    Case(
        id="order-cancel",
        description="Adds order cancellation with a refund. The refund call on the async "
        "store is not awaited, so the coroutine is created and dropped and no refund is "
        "ever written (missing await).",
        base={"shop/db.py": ORDERS_DB, "shop/orders.py": ORDERS_SERVICE_BASE},
        head={"shop/orders.py": ORDERS_SERVICE_HEAD},
        golden=(
            Golden(
                "shop/orders.py",
                "self._store.refund(order_id",
                "OrderStore.refund is a coroutine function and the call is not awaited: the "
                "coroutine is never run, so the customer is told the order was cancelled but "
                "no refund is recorded.",
                "high",
            ),
        ),
        meta={"class": "missing-await", "language": "python"},
    ),
    Case(
        id="report-download",
        description="Adds export to a temporary file for downloads, using tempfile.mktemp and "
        "a later open(): another local user can create or symlink that name first (TOCTOU "
        "on a predictable temporary path).",
        base={"reports/export.py": EXPORT_BASE},
        head={"reports/export.py": EXPORT_HEAD},
        golden=(
            Golden(
                "reports/export.py",
                "path = tempfile.mktemp(",
                "tempfile.mktemp only picks a name; between it and open() another local user "
                "can create that file or a symlink there, so the report is written to (or "
                "through) an attacker-controlled path and is readable until the chmod. Use "
                "tempfile.mkstemp or NamedTemporaryFile(delete=False).",
                "high",
                lines=2,
            ),
        ),
        meta={"class": "insecure-temporary-file", "language": "python", "cwe": "CWE-377"},
    ),
    Case(
        id="item-tags",
        description="Adds tag normalisation whose 'seen' list is a mutable default argument: "
        "tags seen in one call are silently dropped from every later call.",
        base={"catalogue/tags.py": TAGS_BASE},
        head={"catalogue/tags.py": TAGS_HEAD},
        golden=(
            Golden(
                "catalogue/tags.py",
                "def normalise_tags(",
                "The default seen=[] is created once and shared by every call that omits it, "
                "so tags from earlier items are treated as duplicates and dropped from later "
                "ones; default to None and make a new list per call.",
                "medium",
            ),
        ),
        meta={"class": "mutable-default-argument", "language": "python"},
    ),
    Case(
        id="json-body",
        description="Adds JSON body parsing that reads the media type with headers.get() and "
        "calls .split() on the result without checking for a missing header (None).",
        base={"api/requests.py": MIDDLEWARE_BASE},
        head={"api/requests.py": MIDDLEWARE_HEAD},
        golden=(
            Golden(
                "api/requests.py",
                'value = headers.get("content-type")',
                "headers.get returns None when the request has no Content-Type, and "
                "value.split then raises AttributeError: a 500 instead of the intended 415.",
                "medium",
                lines=2,
            ),
        ),
        meta={"class": "unchecked-none", "language": "python", "cwe": "CWE-476"},
    ),
    Case(
        id="raw-image-reader",
        description="Adds a reader for a raw image format. The pixel buffer size is computed "
        "as width * height * channels in 32 bits from header values, so it can wrap and the "
        "row reads overflow the heap buffer (integer overflow in a size computation).",
        base={"src/image.h": IMAGE_H, "src/image.c": IMAGE_BASE},
        head={"src/image.c": IMAGE_HEAD},
        golden=(
            Golden(
                "src/image.c",
                "uint32_t size = width * height * channels;",
                "width, height and channels come from the file header and their product is "
                "computed in 32 bits: it wraps for large images, malloc gets a small size and "
                "image_read_raw then writes past the buffer (heap overflow). Check for "
                "overflow and compute the size in size_t.",
                "critical",
            ),
        ),
        meta={"class": "integer-overflow", "language": "c", "cwe": "CWE-190"},
    ),
    Case(
        id="static-files",
        description="Adds URL-to-file resolution to the static file server by joining the "
        "decoded URL path to the root without normalising it (path traversal).",
        base={"devserver/static.py": STATIC_BASE},
        head={"devserver/static.py": STATIC_HEAD},
        golden=(
            Golden(
                "devserver/static.py",
                "relative = unquote(",
                "The percent-decoded URL path is joined to the root unchecked: ../ segments "
                "(or an absolute path, which os.path.join lets replace the root) reach any "
                "file the server can read. Resolve the real path and require it to stay under "
                "the root.",
                "critical",
                lines=2,
            ),
        ),
        meta={"class": "path-traversal", "language": "python", "cwe": "CWE-22"},
    ),
    Case(
        id="invoice-capture",
        description="Adds payment capture that catches every exception from the gateway, "
        "logs it at debug level and marks the invoice paid anyway (swallowed exception).",
        base={"billing/payments.py": PAYMENTS_BASE},
        head={"billing/payments.py": PAYMENTS_HEAD},
        golden=(
            Golden(
                "billing/payments.py",
                "except Exception:",
                "A failed capture is caught, logged at debug level and ignored, and the "
                "invoice is then marked paid: declined or failed payments are recorded as "
                "collected. Let GatewayError propagate (or mark the invoice failed).",
                "high",
                lines=2,
            ),
        ),
        meta={"class": "swallowed-exception", "language": "python", "cwe": "CWE-390"},
    ),
    Case(
        id="request-stats",
        description="Adds request and error counters to a Go HTTP server. net/http runs "
        "handlers concurrently and the counters are plain ints updated without "
        "synchronisation (data race on a shared counter).",
        base={"api/server.go": STATS_BASE},
        head={"api/server.go": STATS_HEAD},
        golden=(
            Golden(
                "api/server.go",
                "s.stats.Requests++",
                "net/http serves requests on many goroutines at once; the counters are "
                "incremented (and read by /stats) without a mutex or sync/atomic, a data race "
                "that loses counts and fails under -race.",
                "medium",
                lines=4,
            ),
        ),
        meta={"class": "race-condition", "language": "go", "cwe": "CWE-362"},
    ),
    Case(
        id="signed-webhooks",
        description="Adds signing of outgoing webhooks and checking of callback signatures. "
        "The signature check uses == (not constant-time) and deliveries turn TLS "
        "certificate verification off.",
        base={"integrations/webhooks.py": WEBHOOKS_BASE},
        head={"integrations/webhooks.py": WEBHOOKS_HEAD},
        golden=(
            Golden(
                "integrations/webhooks.py",
                "return header == sign(secret, body)",
                "The signature is compared with ==, which returns at the first differing "
                "character; the timing leaks how much of a forged signature is right. Use "
                "hmac.compare_digest.",
                "medium",
            ),
            Golden(
                "integrations/webhooks.py",
                "url, data=body, headers=headers, timeout=TIMEOUT_S, verify=False",
                "verify=False turns off TLS certificate checks for every delivery, so anyone "
                "on the network path can impersonate the receiver and read the signed events.",
                "high",
            ),
        ),
        meta={"class": "crypto-misuse", "language": "python", "cwe": "CWE-208, CWE-295"},
    ),
    Case(
        id="rates-retry",
        description="Refactors the exchange-rate fetch: names the constants and retries only "
        "429/503 and connection errors. Correct; nothing to find.",
        base={"rates/client.py": RETRY_BASE},
        head={"rates/client.py": RETRY_HEAD},
        meta={"class": "clean", "language": "python"},
    ),
    Case(
        id="blog-slugs",
        description="Adds a slugify helper with tests. Correct; nothing to find.",
        base={"blog/text.py": SLUG_BASE},
        head={"blog/text.py": SLUG_HEAD, "tests/test_text.py": SLUG_TESTS},
        meta={"class": "clean", "language": "python"},
    ),
)
