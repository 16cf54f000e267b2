"""The one adapter over the official `kaggle` client, for kaggle.com and practice hosts alike."""

from __future__ import annotations

import contextlib
import io
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from compete.errors import (
    AuthError,
    CompeteError,
    CompetitionEndedError,
    HostError,
    NotFoundError,
    SubmissionLimitError,
)

if TYPE_CHECKING:
    from leaderboards.records import LeaderboardEntry, RemoteSubmission

T = TypeVar("T")
KAGGLE = "kaggle"
RETRY_STATUSES = {429, 500, 502, 503, 504}
CREDENTIALS_HELP = (
    "put kaggle.json from kaggle.com (Settings -> API -> Create New Token) in ~/.kaggle/ "
    "or KAGGLE_CONFIG_DIR, or set KAGGLE_USERNAME and KAGGLE_KEY, or KAGGLE_API_TOKEN"
)


@dataclass(frozen=True)
class HostTarget:
    """Where the client talks: kaggle.com (url None, credentials as the client finds them)
    or a practice host at `url` with its own username and key."""

    url: str | None = None
    username: str | None = None
    key: str | None = None
    # The name the history store keeps for this host: "kaggle" or "practice" (a practice
    # host may run on another port each time; its competitions are the same).
    label: str = KAGGLE

    @property
    def display(self) -> str:
        return "kaggle.com" if self.url is None else f"the practice host at {self.url}"


@dataclass(frozen=True)
class CompetitionInfo:
    name: str
    title: str
    deadline: datetime | None
    metric: str | None
    team_count: int | None
    daily_limit: int | None
    # What the host says in `submissionsDisabled`: on kaggle.com an ended competition may still
    # take late submissions, so this, not the deadline, says whether a submit can succeed.
    submissions_disabled: bool = False

    def ended(self, now: datetime | None = None) -> bool:
        return self.deadline is not None and (now or datetime.now(UTC)) >= self.deadline


@dataclass(frozen=True)
class SubmitResult:
    ref: str
    message: str


@dataclass(frozen=True)
class DataFile:
    name: str
    size: int | None


def _kaggle_api_class() -> type:
    # Importing `kaggle` authenticates at import time and prints help when it finds no
    # credentials; that noise is not ours to show.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from kaggle.api.kaggle_api_extended import KaggleApi
    return KaggleApi


def build_api(target: HostTarget) -> Any:
    """An authenticated `KaggleApi` for the target. For a practice host, a subclass whose
    `build_kaggle_client` points the official client at its URL (pinned by a test)."""
    base = _kaggle_api_class()
    if target.url is None:
        api = base()
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                api.authenticate()
        except SystemExit:
            raise AuthError(f"no Kaggle credentials found: {CREDENTIALS_HELP}") from None
        return api

    from kagglesdk import KaggleClient
    from kagglesdk.kaggle_env import KaggleEnv

    url = target.url

    class PracticeApi(base):  # type: ignore[misc, valid-type]
        def build_kaggle_client(self) -> KaggleClient:
            client = KaggleClient(
                env=KaggleEnv.LOCAL,
                username=target.username,
                password=target.key,
                user_agent="compete",
            )
            # LOCAL means "{endpoint}/api/v1/..."; the endpoint is the practice host's URL.
            client._http_client._endpoint = url
            return client

    api = PracticeApi()
    api.config_values = {"username": target.username, "key": target.key}
    api._authenticated = True
    return api


class KaggleAdapter:
    """List, download, submit, submissions and leaderboard through the official client, with
    retries on 429/5xx/connection errors and plain errors for everything else."""

    def __init__(
        self,
        target: HostTarget,
        *,
        retries: int = 4,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        page_size: int = 200,
    ) -> None:
        self.target = target
        self.page_size = page_size
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._api: Any = None

    @property
    def api(self) -> Any:
        if self._api is None:
            self._api = build_api(self.target)
        return self._api

    # -- calls -------------------------------------------------------------------------------

    def competition(self, name: str) -> CompetitionInfo:
        def call() -> Any:
            from kagglesdk.competitions.types.competition_api_service import (
                ApiGetCompetitionRequest,
            )

            with self.api.build_kaggle_client() as client:
                request = ApiGetCompetitionRequest()
                request.competition_name = name
                return client.competitions.competition_api_client.get_competition(request)

        return _competition_info(self._call(f"read competition {name!r}", call, name=name), name)

    def list_competitions(self, search: str = "") -> list[CompetitionInfo]:
        found = self._call("list competitions", lambda: self.api.competitions_list(search=search))
        return [_competition_info(c, None) for c in getattr(found, "competitions", found) or []]

    def list_files(self, name: str) -> list[DataFile]:
        response = self._call(
            f"list the files of {name!r}",
            lambda: self.api.competition_list_files(name, page_size=200),
            name=name,
        )
        return [DataFile(f.name, getattr(f, "total_bytes", None)) for f in response.files or []]

    def download(self, name: str, folder: Path) -> list[Path]:
        """Download every data file of `name` into `folder` (a fresh temporary folder); the zip
        is unpacked and removed. Returns the files."""
        folder.mkdir(parents=True, exist_ok=True)
        self._call(
            f"download the files of {name!r}",
            lambda: self._quiet(
                lambda: self.api.competition_download_files(name, path=str(folder), force=True)
            ),
            name=name,
        )
        files: list[Path] = []
        for archive in sorted(folder.glob("*.zip")):
            with zipfile.ZipFile(archive) as bundle:
                for member in bundle.infolist():
                    if member.is_dir():
                        continue
                    # Never trust member paths: keep the base name only.
                    target = folder / Path(member.filename).name
                    with bundle.open(member) as src, open(target, "wb") as dst:
                        dst.write(src.read())
                    files.append(target)
            archive.unlink()
        if not files:
            files = sorted(p for p in folder.iterdir() if p.is_file())
        return files

    def submissions_left(self, name: str) -> int | None:
        """Submissions still allowed today, or None when the host does not say."""
        try:
            limits = self._call(
                f"read the submission limits of {name!r}",
                lambda: self.api.competition_get_submission_limits(name),
                name=name,
            )
        except (HostError, NotFoundError, AttributeError):
            return None
        allowed = getattr(limits, "num_allowed_now", None)
        return None if allowed is None else int(allowed)

    def submit(self, name: str, file: Path, message: str) -> SubmitResult:
        """Upload `file`; raises unless the host confirmed the submission. Never retried after
        the host may have received it, so a retry can never make a duplicate."""
        api = self.api
        failed = api.COMPETITION_SUBMIT_UPLOAD_FAILED_MESSAGE

        def call() -> Any:
            return self._quiet(lambda: api.competition_submit(str(file), message, name, quiet=True))

        try:
            response = self._call(f"submit to {name!r}", call, name=name, only_connect_retry=True)
        except (CompetitionEndedError, SubmissionLimitError, AuthError, NotFoundError):
            raise
        except HostError as error:
            # kaggle.com's wording for an ended competition is not in the official client, so
            # when the host answered "no", ask it whether the competition still takes entries.
            if getattr(error, "http_status", None) in (400, 403) and self._submissions_closed(name):
                said = getattr(error, "host_message", str(error))
                raise CompetitionEndedError(
                    f"{self.target.display}: the competition {name} has ended and takes no more "
                    f"submissions (it said: {said}); nothing was submitted"
                ) from None
            raise
        text = (getattr(response, "message", "") or "").strip()
        ref = getattr(response, "ref", None)
        if text == failed or (not ref and "could not" in text.lower()):
            raise HostError(
                f"{self.target.display} did not accept the upload of {file.name}; "
                "nothing was submitted: try again, and `compete sync` shows what the host has"
            )
        if "limit" in text.lower() and not ref:
            raise SubmissionLimitError(f"{self.target.display}: {text}")
        if not ref:
            raise HostError(f"{self.target.display} gave no submission reference: {text!r}")
        return SubmitResult(ref=str(ref), message=text)

    def submissions(self, name: str) -> list[RemoteSubmission]:
        from kagglesdk.competitions.types.competition_api_service import ApiListSubmissionsRequest

        from leaderboards.records import RemoteSubmission

        rows: list[RemoteSubmission] = []
        for page in self._pages(name, ApiListSubmissionsRequest, "list_submissions"):
            for s in page.submissions or []:
                status = getattr(s.status, "name", str(s.status or "")).upper()
                rows.append(
                    RemoteSubmission(
                        ref=str(s.ref),
                        file_name=s.file_name or "",
                        description=s.description or "",
                        date=_utc(s.date),
                        status=status,
                        error=s.error_description or None,
                        public_score_raw=s.public_score or "",
                        private_score_raw=s.private_score or "",
                    )
                )
        return rows

    def leaderboard(self, name: str) -> list[LeaderboardEntry]:
        """Every entry of the leaderboard, all pages, in the host's order."""
        from kagglesdk.competitions.types.competition_api_service import ApiGetLeaderboardRequest

        from leaderboards.records import LeaderboardEntry

        entries: list[LeaderboardEntry] = []
        for page in self._pages(name, ApiGetLeaderboardRequest, "get_leaderboard"):
            for e in page.submissions or []:
                entries.append(
                    LeaderboardEntry(
                        team_id=str(e.team_id),
                        team_name=e.team_name or "",
                        score_raw=e.score or "",
                        submission_date=_utc(e.submission_date),
                    )
                )
        return entries

    def _submissions_closed(self, name: str) -> bool:
        try:
            return self.competition(name).submissions_disabled
        except CompeteError:
            return False

    # -- machinery ---------------------------------------------------------------------------

    def _pages(self, name: str, request_type: type, method: str) -> Iterator[Any]:
        token, seen = "", set()
        while True:
            request = request_type()
            request.competition_name = name
            request.page_size = self.page_size
            request.page_token = token

            def call(request: Any = request) -> Any:
                with self.api.build_kaggle_client() as client:
                    return getattr(client.competitions.competition_api_client, method)(request)

            page = self._call(f"{method.replace('_', ' ')} of {name!r}", call, name=name)
            yield page
            token = page.next_page_token or ""
            if not token or token in seen:
                return
            seen.add(token)

    @staticmethod
    def _quiet(fn: Callable[[], T]) -> T:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return fn()

    def _call(
        self,
        what: str,
        fn: Callable[[], T],
        *,
        name: str | None = None,
        only_connect_retry: bool = False,
    ) -> T:
        import requests

        attempt = 0
        while True:
            try:
                return fn()
            except requests.HTTPError as error:
                status = error.response.status_code if error.response is not None else None
                retry = status == 429 or (status in RETRY_STATUSES and not only_connect_retry)
                if retry and attempt < self.retries:
                    self._wait(attempt, error.response)
                    attempt += 1
                    continue
                message = _message(error)
                translated = self._translate(what, status, message, name)
                # Kept for callers that decide by the host's answer (see `submit`).
                translated.http_status = status  # type: ignore[attr-defined]
                translated.host_message = message  # type: ignore[attr-defined]
                raise translated from None
            except requests.ConnectionError as error:
                # A refused connection sent nothing, so even a submit is safe to retry.
                refused = "refused" in str(error).lower() or "Max retries" in str(error)
                if (refused or not only_connect_retry) and attempt < self.retries:
                    self._wait(attempt, None)
                    attempt += 1
                    continue
                raise HostError(
                    f"cannot reach {self.target.display} to {what} after {attempt + 1} tries; "
                    "check the network (or start the practice host) and try again"
                ) from None
            except requests.Timeout:
                raise HostError(
                    f"{self.target.display} timed out while trying to {what}; try again"
                ) from None
            except CompeteError:
                raise
            except (ValueError, KeyError, OSError) as error:
                raise HostError(f"could not {what}: {error}") from None

    def _wait(self, attempt: int, response: Any) -> None:
        delay = self.backoff * (2**attempt)
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after and retry_after.isdigit():
            delay = max(delay, min(float(retry_after), 60.0))
        self._sleep(delay)

    def _translate(
        self, what: str, status: int | None, message: str, name: str | None
    ) -> Exception:
        where = self.target.display
        lowered = message.lower()
        if status == 403 and "rule" in lowered:
            return HostError(
                f"{where}: {message}; accept the competition's rules on its page "
                f"(https://www.kaggle.com/competitions/{name}/rules) and try again"
            )
        if status in (401, 403) and "limit" not in lowered:
            if self.target.url is None:
                return AuthError(f"{where} refused the credentials ({message}): {CREDENTIALS_HELP}")
            return AuthError(
                f"{where} refused the credentials ({message}); the practice key lives in "
                "COMPETE_HOME/practice/credentials.json"
            )
        if status == 404:
            return NotFoundError(
                f"{where}: {message or 'not found'} (while trying to {what}); check the name "
                "(`compete practice list`, or `kaggle competitions list -s WORD` for kaggle.com)"
            )
        if "limit" in lowered:
            return SubmissionLimitError(f"{where}: {message}")
        if "has ended" in lowered:  # the practice host's wording
            return CompetitionEndedError(f"{where}: {message}; nothing was submitted")
        return HostError(f"{where} refused to {what} (HTTP {status}): {message}")


def _message(error: Exception) -> str:
    response = getattr(error, "response", None)
    if response is not None:
        with contextlib.suppress(ValueError):
            body = response.json()
            if isinstance(body, dict) and body.get("message"):
                return str(body["message"])
    return str(error.args[0]) if error.args else str(error)


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _competition_info(c: Any, name: str | None) -> CompetitionInfo:
    ref = (getattr(c, "ref", "") or "").rstrip("/")
    slug = ref.rsplit("/", 1)[-1] if ref else (name or "")
    return CompetitionInfo(
        name=slug or (name or ""),
        title=getattr(c, "title", "") or slug,
        deadline=_utc(getattr(c, "deadline", None)),
        metric=getattr(c, "evaluation_metric", None) or None,
        team_count=getattr(c, "team_count", None),
        daily_limit=getattr(c, "max_daily_submissions", None) or None,
        submissions_disabled=bool(getattr(c, "submissions_disabled", False)),
    )
