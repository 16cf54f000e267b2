"""The practice host's HTTP server: the subset of the Kaggle API that the official `kaggle`
client calls, as a Starlette app, and ways to run it (foreground or a background thread)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import csv
import hashlib
import hmac
import io
import json
import os
import re
import socket
import threading
import time
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from compete.errors import CompeteError, HostError, NotFoundError, SubmissionLimitError
from compete.practice.scoring import format_score, rank_teams, score_submission
from compete.practice.state import (
    COMPLETE,
    Credentials,
    HostStore,
    NewSubmission,
    PracticeCompetition,
    SubmissionRecord,
    as_utc,
    competitions_dir,
    get_competition,
    host_credentials,
    limit_message,
    list_competitions,
    practice_dir,
    uploads_dir,
    utc_now,
)

SERVICE = "competitions.CompetitionApiService"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
SAFE_FILE = re.compile(r"[^A-Za-z0-9._-]+")
Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


class ApiError(Exception):
    """An error the way Kaggle sends it: {"code": status, "message": ...}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": status, "message": message}, status_code=status)


def _when(value: datetime | None) -> str | None:
    """Kaggle's date form: ISO 8601 in UTC with milliseconds and a Z."""
    if value is None:
        return None
    return as_utc(value).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


# -- the host: everything a request handler needs ----------------------------------------------


@dataclass(frozen=True)
class Call:
    """One API call: its JSON body and where to build URLs from."""

    body: dict[str, Any]
    base_url: str


class PracticeHost:
    """The API methods over one COMPETE_HOME. Each method takes a Call and returns the JSON
    response (a dict) or a Starlette Response (redirects)."""

    def __init__(self, home: Path, credentials: Credentials, store: HostStore) -> None:
        self.home = home
        self.credentials = credentials
        self.store = store

    # -- helpers -------------------------------------------------------------------------------

    def competition(self, body: dict[str, Any]) -> PracticeCompetition:
        name = str(body.get("competitionName") or "").strip()
        if not name:
            raise ApiError(400, "competitionName is required")
        try:
            return get_competition(self.home, name)
        except CompeteError:
            raise ApiError(404, f"Competition '{name}' not found") from None

    def sign(self, path: str) -> str:
        digest = hmac.new(self.credentials.key.encode(), path.encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def signed_url(self, base_url: str, path: str) -> str:
        return f"{base_url}{path}?sig={self.sign(path)}"

    def user_team(self, competition: PracticeCompetition) -> int | None:
        return self.store.user_team_id(competition.name, self.credentials.username)

    def standings(self, competition: PracticeCompetition, now: datetime) -> list[Any]:
        from pipelines.metrics import get_metric

        ended = competition.ended(now)
        rows = self.store.scored_submissions(competition.name, before=competition.deadline)
        return rank_teams(
            rows, private=ended, greater_is_better=get_metric(competition.metric).greater_is_better
        )

    def competition_json(self, competition: PracticeCompetition, base_url: str) -> dict[str, Any]:
        now = utc_now()
        team = self.user_team(competition)
        rank = next((s.rank for s in self.standings(competition, now) if s.team_id == team), None)
        url = f"{base_url}/competitions/{competition.name}"
        data = {
            "id": int(hashlib.sha1(competition.name.encode()).hexdigest()[:7], 16),
            "ref": url,
            "title": competition.title,
            "url": url,
            "description": f"Practice competition built from {competition.source}",
            "organizationName": "compete practice",
            "category": "Playground",
            "reward": "Knowledge",
            "tags": [],
            "deadline": _when(competition.deadline),
            "kernelCount": 0,
            "teamCount": self.store.team_count(competition.name),
            "userHasEntered": team is not None,
            "userRank": rank,
            "enabledDate": _when(competition.created),
            "dateCreated": _when(competition.created),
            "maxDailySubmissions": competition.daily_limit,
            "maxTeamSize": 1,
            "evaluationMetric": competition.metric,
            "awardsPoints": False,
            "isKernelsSubmissionsOnly": False,
            "submissionsDisabled": competition.ended(now),
            "hostName": "compete practice",
        }
        return {k: v for k, v in data.items() if v is not None}

    def submission_json(
        self, competition: PracticeCompetition, s: SubmissionRecord, base_url: str
    ) -> dict[str, Any]:
        ended = competition.ended()
        return {
            "ref": s.id,
            "totalBytes": s.total_bytes or 0,
            "date": _when(s.date),
            "description": s.description,
            "errorDescription": s.error_description or "",
            "fileName": s.file_name,
            "publicScore": format_score(s.public_score),
            "privateScore": format_score(s.private_score) if ended else "",
            "status": s.status,
            "submittedBy": s.submitted_by or "",
            "submittedByRef": s.submitted_by or "",
            "teamName": s.team_name,
            "url": f"{base_url}/competitions/{competition.name}/submissions#{s.id}",
        }

    # -- competitions --------------------------------------------------------------------------

    def ListCompetitions(self, call: Call) -> dict[str, Any]:
        body = call.body
        search = str(body.get("search") or "").strip().lower()
        category = str(body.get("category") or "HOST_SEGMENT_UNSPECIFIED")
        group = str(body.get("group") or "COMPETITION_LIST_TAB_EVERYTHING")
        found = list_competitions(self.home)
        if search:
            found = [c for c in found if search in c.name or search in c.title.lower()]
        if category not in ("HOST_SEGMENT_UNSPECIFIED", "HOST_SEGMENT_PLAYGROUND"):
            found = []
        if group.endswith("ENTERED"):
            found = [c for c in found if self.user_team(c) is not None]
        elif group.endswith("GENERAL"):
            found = [c for c in found if not c.ended()]
        page, token = _page(body, len(found), default_size=DEFAULT_PAGE_SIZE)
        return {
            "competitions": [self.competition_json(c, call.base_url) for c in found[page]],
            "nextPageToken": token,
        }

    def GetCompetition(self, call: Call) -> dict[str, Any]:
        return self.competition_json(self.competition(call.body), call.base_url)

    def ListDataFiles(self, call: Call) -> dict[str, Any]:
        competition = self.competition(call.body)
        files = competition.data_files
        page, token = _page(call.body, len(files), default_size=DEFAULT_PAGE_SIZE)
        return {
            "files": [
                {
                    "ref": p.name,
                    "name": p.name,
                    "totalBytes": p.stat().st_size,
                    "url": self.signed_url(
                        call.base_url, f"/practice/files/{competition.name}/{p.name}"
                    ),
                    "creationDate": _when(competition.created),
                }
                for p in files[page]
            ],
            "nextPageToken": token,
        }

    def DownloadDataFiles(self, call: Call) -> Response:
        competition = self.competition(call.body)
        path = f"/practice/files/{competition.name}/{competition.archive_path.name}"
        return RedirectResponse(self.signed_url(call.base_url, path), status_code=302)

    def DownloadDataFile(self, call: Call) -> Response:
        competition = self.competition(call.body)
        name = str(call.body.get("fileName") or "")
        if name not in {p.name for p in competition.data_files}:
            known = ", ".join(p.name for p in competition.data_files)
            raise ApiError(404, f"File '{name}' not found in {competition.name}; files: {known}")
        path = f"/practice/files/{competition.name}/{name}"
        return RedirectResponse(self.signed_url(call.base_url, path), status_code=302)

    # -- submitting ----------------------------------------------------------------------------

    def StartSubmissionUpload(self, call: Call) -> dict[str, Any]:
        competition = self.competition(call.body)
        self._refuse_if_ended(competition)
        file_name = Path(str(call.body.get("fileName") or "submission.csv")).name
        size = int(call.body.get("contentLength") or 0)
        if size > MAX_UPLOAD_BYTES:
            raise ApiError(400, f"{file_name} is {size} bytes; the limit is {MAX_UPLOAD_BYTES}")
        token = self.store.start_upload(competition.name, file_name)
        return {"token": token, "createUrl": f"{call.base_url}/practice/uploads/{token}"}

    def CreateSubmission(self, call: Call) -> dict[str, Any]:
        competition = self.competition(call.body)
        self._refuse_if_ended(competition)
        token = str(call.body.get("blobFileTokens") or "")
        upload = self.store.get_upload(token) if token else None
        if upload is None or upload.competition != competition.name:
            raise ApiError(400, "Unknown upload token; upload the file again, then submit")
        if upload.path is None or not upload.path.is_file():
            raise ApiError(400, "The file for this upload never arrived; upload it again")
        now = utc_now()
        team = self.user_team(competition)
        used = self.store.count_today(competition.name, team, now)
        if used >= competition.daily_limit:
            raise ApiError(400, limit_message(competition, used, now))
        result = score_submission(competition, upload.path)
        description = str(call.body.get("submissionDescription") or "")
        try:
            ref = self.store.add_submission(
                competition,
                team=self.credentials.username,
                username=self.credentials.username,
                submission=NewSubmission(
                    file_name=upload.file_name,
                    description=description,
                    status=result.status,
                    error_description=result.error_description,
                    public_score=result.public_score,
                    private_score=result.private_score,
                    total_bytes=upload.total_bytes,
                    path=str(upload.path),
                ),
                now=utc_now(),
                upload_token=token,
            )
        except SubmissionLimitError as error:
            raise ApiError(400, str(error)) from None
        except CompeteError as error:
            raise ApiError(400, str(error)) from None
        message = f"Successfully submitted to {competition.title}"
        if result.status != COMPLETE:
            message += f"; it could not be scored: {result.error_description}"
        return {"message": message, "ref": ref}

    def _refuse_if_ended(self, competition: PracticeCompetition) -> None:
        if competition.ended():
            raise ApiError(
                400,
                f"The competition {competition.name} has ended "
                f"({competition.deadline:%Y-%m-%d %H:%M} UTC); it accepts no more submissions",
            )

    def GetSubmission(self, call: Call) -> dict[str, Any]:
        try:
            ref = int(call.body.get("ref") or 0)
        except (TypeError, ValueError):
            ref = 0
        record = self.store.get_submission(ref)
        if record is None or record.submitted_by != self.credentials.username:
            raise ApiError(404, f"Submission {call.body.get('ref')!r} not found")
        competition = get_competition(self.home, record.competition)
        return self.submission_json(competition, record, call.base_url)

    def ListSubmissions(self, call: Call) -> dict[str, Any]:
        competition = self.competition(call.body)
        team = self.user_team(competition)
        rows = [] if team is None else self.store.team_submissions(competition.name, team)
        group = str(call.body.get("group") or "")
        if group.endswith(("SUCCESSFUL", "SELECTED")):
            rows = [r for r in rows if r.status == COMPLETE]
        sort = str(call.body.get("sortBy") or "")
        if sort.endswith(("PUBLIC_SCORE", "PRIVATE_SCORE")):
            from pipelines.metrics import get_metric

            better = get_metric(competition.metric).greater_is_better
            private = sort.endswith("PRIVATE_SCORE") and competition.ended()

            def score(r: SubmissionRecord) -> float:
                value = r.private_score if private else r.public_score
                return float("inf") if value is None else (-value if better else value)

            rows = sorted(rows, key=score)
        elif sort.endswith("NAME"):
            rows = sorted(rows, key=lambda r: r.file_name)
        page, token = _page(call.body, len(rows), default_size=DEFAULT_PAGE_SIZE)
        return {
            "submissions": [
                self.submission_json(competition, r, call.base_url) for r in rows[page]
            ],
            "nextPageToken": token,
        }

    def GetSubmissionLimits(self, call: Call) -> dict[str, Any]:
        competition = self.competition(call.body)
        team = self.user_team(competition)
        today = self.store.count_today(competition.name, team, utc_now())
        allowed = 0 if competition.ended() else max(0, competition.daily_limit - today)
        return {
            "numToday": today,
            "numTotal": self.store.count_total(competition.name, team),
            "numAllowedNow": allowed,
            "limitedByTotal": False,
        }

    # -- leaderboard ---------------------------------------------------------------------------

    def GetLeaderboard(self, call: Call) -> dict[str, Any]:
        competition = self.competition(call.body)
        standings = self.standings(competition, utc_now())
        page, token = _page(call.body, len(standings), default_size=50, allow_page=False)
        return {
            "submissions": [
                {
                    "teamId": s.team_id,
                    "teamName": s.team_name,
                    "submissionDate": _when(s.submission_date),
                    "score": format_score(s.score),
                }
                for s in standings[page]
            ],
            "nextPageToken": token,
        }

    def DownloadLeaderboard(self, call: Call) -> Response:
        competition = self.competition(call.body)
        path = f"/practice/leaderboard/{competition.name}/{competition.name}.zip"
        return RedirectResponse(self.signed_url(call.base_url, path), status_code=302)

    def leaderboard_zip(self, competition: PracticeCompetition) -> tuple[str, bytes]:
        now = utc_now()
        board = "private" if competition.ended(now) else "public"
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(
            [
                "Rank",
                "TeamId",
                "TeamName",
                "LastSubmissionDate",
                "Score",
                "SubmissionCount",
                "TeamMemberUserNames",
            ]
        )
        for s in self.standings(competition, now):
            writer.writerow(
                [
                    s.rank,
                    s.team_id,
                    s.team_name,
                    f"{as_utc(s.submission_date):%Y-%m-%d %H:%M:%S}",
                    format_score(s.score),
                    s.submission_count,
                    s.usernames,
                ]
            )
        member = f"{competition.name}-{board}leaderboard-{now:%Y-%m-%dT%H%M%S}.csv"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            bundle.writestr(member, text.getvalue())
        return f"{competition.name}.zip", buffer.getvalue()

    # -- auth ----------------------------------------------------------------------------------

    def authorized(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return hmac.compare_digest(value.strip().encode(), self.credentials.key.encode())
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _, key = decoded.partition(":")
        return hmac.compare_digest(user.encode(), self.credentials.username.encode()) and (
            hmac.compare_digest(key.encode(), self.credentials.key.encode())
        )


API_METHODS = {
    "ListCompetitions",
    "GetCompetition",
    "ListDataFiles",
    "DownloadDataFiles",
    "DownloadDataFile",
    "StartSubmissionUpload",
    "CreateSubmission",
    "GetSubmission",
    "ListSubmissions",
    "GetSubmissionLimits",
    "GetLeaderboard",
    "DownloadLeaderboard",
}


def _page(
    body: dict[str, Any], total: int, *, default_size: int, allow_page: bool = True
) -> tuple[slice, str]:
    """The slice of results the request asks for (pageToken offset, or a 1-based page) and the
    token of the next page ("" at the end)."""
    try:
        size = int(body.get("pageSize") or default_size)
    except (TypeError, ValueError):
        raise ApiError(400, f"pageSize must be a number, got {body.get('pageSize')!r}") from None
    size = max(1, min(size, MAX_PAGE_SIZE))
    token = str(body.get("pageToken") or "")
    if token:
        if not token.isdigit():
            raise ApiError(400, f"Invalid pageToken {token!r}; use the nextPageToken returned")
        start = int(token)
    elif allow_page and body.get("page"):
        start = (max(1, int(body["page"])) - 1) * size
    else:
        start = 0
    end = start + size
    return slice(start, end), str(end) if end < total else ""


def _base_url(request: Request) -> str:
    host = request.headers.get("host")
    if not host:
        server = request.scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{request.url.scheme}://{host}"


# -- the ASGI app --------------------------------------------------------------------------------


def create_app(home: Path) -> ASGIApp:
    """The practice host for `home` as an ASGI app (wrapped to accept proxy-style targets)."""
    home = Path(home)
    host = PracticeHost(home, host_credentials(home), HostStore.open(home))
    uploads_dir(home).mkdir(parents=True, exist_ok=True)

    async def api(request: Request) -> Response:
        method = request.path_params["method"]
        if method not in API_METHODS:
            return _error_response(404, f"Method {SERVICE}/{method} is not served by this host")
        if not host.authorized(request.headers.get("authorization")):
            return _error_response(
                401, "Unauthenticated: use the username and key of this practice host"
            )
        try:
            raw = await request.body()
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            return _error_response(400, "The request body must be a JSON object")
        handler = getattr(host, method)
        try:
            result = await run_in_threadpool(handler, Call(body, _base_url(request)))
        except ApiError as error:
            return _error_response(error.status, error.message)
        except NotFoundError as error:
            return _error_response(404, str(error))
        except CompeteError as error:
            return _error_response(400, str(error))
        return result if isinstance(result, Response) else JSONResponse(result)

    async def introspect(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = {}
        token = str(body.get("token") or "") if isinstance(body, dict) else ""
        if token and hmac.compare_digest(token.encode(), host.credentials.key.encode()):
            return JSONResponse({"active": True, "username": host.credentials.username})
        return JSONResponse({"active": False})

    def check_signature(request: Request) -> None:
        given = request.query_params.get("sig", "")
        if not hmac.compare_digest(given.encode(), host.sign(request.url.path).encode()):
            raise ApiError(403, "This download link is invalid; ask the API for a new one")

    async def data_file(request: Request) -> Response:
        name, file = request.path_params["name"], request.path_params["file"]
        try:
            check_signature(request)
            competition = await run_in_threadpool(host.competition, {"competitionName": name})
        except ApiError as error:
            return _error_response(error.status, error.message)
        allowed = {p.name: p for p in competition.data_files}
        allowed[competition.archive_path.name] = competition.archive_path
        if file not in allowed:
            return _error_response(404, f"File '{file}' not found in {name}")
        return FileResponse(allowed[file], filename=file)

    async def leaderboard_file(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            check_signature(request)
            competition = await run_in_threadpool(host.competition, {"competitionName": name})
        except ApiError as error:
            return _error_response(error.status, error.message)
        filename, data = await run_in_threadpool(host.leaderboard_zip, competition)
        return Response(
            data,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    async def upload(request: Request) -> Response:
        token = request.path_params["token"]
        record = await run_in_threadpool(host.store.get_upload, token)
        if record is None or record.used:
            return _error_response(404, "Unknown or used upload URL; start the upload again")
        folder = uploads_dir(home) / token
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / (SAFE_FILE.sub("_", record.file_name) or "submission.csv")
        size = 0
        with open(target, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    return _error_response(413, f"Upload larger than {MAX_UPLOAD_BYTES} bytes")
                out.write(chunk)
        await run_in_threadpool(host.store.finish_upload, token, target, size)
        return JSONResponse({})

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error_response(404, f"No such endpoint: {request.method} {request.url.path}")

    routes = []
    for prefix in ("/api/v1", "/v1"):
        routes += [
            Route(f"{prefix}/{SERVICE}/{{method}}", api, methods=["POST"]),
            Route(f"{prefix}/security.OAuthService/IntrospectToken", introspect, methods=["POST"]),
        ]
    routes += [
        Route("/practice/files/{name}/{file}", data_file, methods=["GET", "HEAD"]),
        Route("/practice/leaderboard/{name}/{file}", leaderboard_file, methods=["GET"]),
        Route("/practice/uploads/{token}", upload, methods=["PUT"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found})
    return absolute_form_paths(app)


def absolute_form_paths(app: ASGIApp) -> ASGIApp:
    """Route proxy-style requests: through HTTP_PROXY a client sends absolute-form targets
    (`POST http://localhost/api/v1/...`), which uvicorn passes on as the path unchanged."""

    async def shim(scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope.get("type") in ("http", "websocket") and path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            scope = dict(scope)
            scope["path"] = parts.path or "/"
            scope["raw_path"] = (parts.path or "/").encode()
            if parts.query and not scope.get("query_string"):
                scope["query_string"] = parts.query.encode()
        await app(scope, receive, send)

    return shim


# -- running it ------------------------------------------------------------------------------------


def _server(home: Path, host: str, port: int) -> Any:
    import uvicorn

    config = uvicorn.Config(
        create_app(home), host=host, port=port, log_level="warning", lifespan="off"
    )
    return uvicorn.Server(config)


def serve(
    home: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Run the practice host in the foreground until interrupted; home/practice/server.json
    holds its URL and pid while it runs. `on_listening(url)` is called once the port is held,
    so a caller announces the host only when it can really start."""
    home = Path(home)
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    url = f"http://{host}:{bound}"
    if on_listening is not None:
        try:
            on_listening(url)
        except BaseException:
            sock.close()
            raise
    info = practice_dir(home) / "server.json"
    info.parent.mkdir(parents=True, exist_ok=True)
    info.write_text(json.dumps({"url": url, "pid": os.getpid()}) + "\n", encoding="utf-8")
    try:
        _server(home, host, bound).run(sockets=[sock])
    finally:
        sock.close()
        with contextlib.suppress(OSError, ValueError):
            if json.loads(info.read_text(encoding="utf-8")).get("pid") == os.getpid():
                info.unlink()


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise HostError(
            f"cannot listen on {host}:{port} ({error.strerror}); "
            "pick another port or stop what uses it"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@contextlib.contextmanager
def running_host(home: Path, *, port: int = 0) -> Iterator[str]:
    """Run the practice host in a background thread on a loopback port; yields its base URL
    (`http://127.0.0.1:PORT`) once it accepts connections, and stops it on exit."""
    home = Path(home)
    competitions_dir(home).mkdir(parents=True, exist_ok=True)
    sock = _bind("127.0.0.1", port)
    bound = sock.getsockname()[1]
    server = _server(home, "127.0.0.1", bound)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"practice-host-{bound}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise HostError(f"the practice host did not start on 127.0.0.1:{bound}")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
