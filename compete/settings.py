"""Settings: environment (COMPETE_*) over COMPETE_HOME/config.toml over defaults."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from compete.errors import UsageError

DEFAULT_HOME = Path("~/.compete")
CONFIG_FILE = "config.toml"


def resolve_home(value: str | Path | None = None) -> Path:
    """COMPETE_HOME from an explicit value, the environment, or the default."""
    raw = value or os.environ.get("COMPETE_HOME") or DEFAULT_HOME
    return Path(raw).expanduser().resolve()


class _ConfigFileSource(PydanticBaseSettingsSource):
    """Reads COMPETE_HOME/config.toml; its place depends on the home chosen by init or env."""

    def __init__(self, settings_cls: type[BaseSettings], home: Path) -> None:
        super().__init__(settings_cls)
        self.path = home / CONFIG_FILE
        self.values: dict[str, Any] = {}
        if self.path.is_file():
            try:
                self.values = tomllib.loads(self.path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as error:
                message = f"{self.path} is not valid TOML ({error}); fix or delete it"
                raise UsageError(message) from None

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self.values.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    """Everything configurable about `compete`; read the documented names in README.md."""

    model_config = SettingsConfigDict(env_prefix="COMPETE_", extra="ignore", frozen=True)

    home: Path = DEFAULT_HOME
    database_url: str | None = None
    # "auto": a practice competition goes to the practice host, anything else to kaggle.com;
    # "kaggle"; "practice"; or a practice host's URL such as http://127.0.0.1:8765.
    host: str = "auto"
    # Our team's name on leaderboards, to find our rank; defaults to the host's username.
    team: str | None = None
    practice_port: int = 8765
    # The mock interview's sessions, responses and review cards (same URL scheme as the history).
    interview_database_url: str | None = None

    @field_validator("home", mode="before")
    @classmethod
    def _expand_home(cls, value: Any) -> Path:
        return resolve_home(value)

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        if value in {"auto", "kaggle", "practice"} or value.startswith(("http://", "https://")):
            return value.rstrip("/")
        raise ValueError(
            "host must be auto, kaggle, practice or a URL such as http://127.0.0.1:8765"
        )

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'history.sqlite'}"

    @property
    def interview_db_url(self) -> str:
        return self.interview_database_url or f"sqlite:///{self.home / 'interview.sqlite'}"

    @property
    def competitions_dir(self) -> Path:
        return self.home / "competitions"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        home = resolve_home(init_settings().get("home"))
        return (init_settings, env_settings, _ConfigFileSource(settings_cls, home))


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once; `overrides` (from CLI flags) win over everything else."""
    from pydantic import ValidationError

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise UsageError(
            f"bad setting {where}: {first['msg']} (check COMPETE_{where.upper()} "
            f"or {CONFIG_FILE} in COMPETE_HOME)"
        ) from None
