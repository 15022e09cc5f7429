"""Settings, read once from the environment and ``.env`` (documented in ``.env.example``)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote, quote_plus, unquote, urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from campaigns.schema import check_zone


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    # An empty value (``TELEGRAM_WEBHOOK_SECRET=`` as in .env.example) is the same as no value.
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    database_url: str = Field("sqlite:///uplift.db", validation_alias=_env("DATABASE_URL"))
    db_pool_size: int = Field(10, ge=1, validation_alias=_env("UPLIFT_DB_POOL_SIZE"))
    db_max_overflow: int = Field(10, ge=0, validation_alias=_env("UPLIFT_DB_MAX_OVERFLOW"))
    db_pool_timeout: float = Field(30.0, gt=0, validation_alias=_env("UPLIFT_DB_POOL_TIMEOUT"))
    leader_retry_seconds: float = Field(
        15.0, gt=0, le=60, validation_alias=_env("UPLIFT_LEADER_RETRY_SECONDS")
    )
    events_at_once: int = Field(8, ge=1, validation_alias=_env("UPLIFT_EVENTS_AT_ONCE"))
    sender_lease_seconds: float = Field(
        60.0, gt=0, validation_alias=_env("UPLIFT_SENDER_LEASE_SECONDS")
    )
    locale: Literal["zh", "en"] = Field("zh", validation_alias=_env("UPLIFT_LOCALE"))
    timezone: str = Field("Asia/Shanghai", validation_alias=_env("UPLIFT_TIMEZONE"))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=_env("UPLIFT_LOG_LEVEL")
    )
    http_host: str = Field("127.0.0.1", validation_alias=_env("UPLIFT_HTTP_HOST"))
    http_port: int = Field(8080, ge=0, le=65535, validation_alias=_env("UPLIFT_HTTP_PORT"))
    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str = Field("https://slack.com/api/", validation_alias=_env("SLACK_API_URL"))
    telegram_bot_token: SecretStr | None = Field(None, validation_alias=_env("TELEGRAM_BOT_TOKEN"))
    telegram_api_url: str = Field(
        "https://api.telegram.org/bot", validation_alias=_env("TELEGRAM_API_URL")
    )
    telegram_webhook_url: str | None = Field(None, validation_alias=_env("TELEGRAM_WEBHOOK_URL"))
    telegram_webhook_secret: SecretStr | None = Field(
        None, validation_alias=_env("TELEGRAM_WEBHOOK_SECRET")
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_zone(value)

    @property
    def slack_configured(self) -> bool:
        return self.slack_bot_token is not None and self.slack_signing_secret is not None

    @property
    def telegram_configured(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def telegram_webhook_without_secret(self) -> bool:
        """A webhook asked for without the secret that keeps strangers' updates out."""
        secret = self.telegram_webhook_secret
        return bool(self.telegram_webhook_url) and not (secret and secret.get_secret_value())

    def secrets(self) -> dict[str, str]:
        """Every configured secret by setting name, as it may appear in text: the value itself
        and its URL-encoded forms (a token in a request URL, a password in the database URL).
        Values shorter than MIN_SECRET_LENGTH are left out: masking them would garble every
        line and protect nothing."""
        values = {
            name.upper(): secret.get_secret_value()
            for name in SECRET_SETTINGS
            if (secret := getattr(self, name)) is not None
        }
        password = database_password(self.database_url)
        if password:
            values["DATABASE_URL"] = password
        found: dict[str, str] = {}
        for name, value in values.items():
            if len(value) < MIN_SECRET_LENGTH:
                continue
            for form in (value, quote(value, safe=""), quote_plus(value), quote(value)):
                found.setdefault(form, name)
        return found


SECRET_SETTINGS = (
    "slack_bot_token",
    "slack_signing_secret",
    "slack_app_token",
    "telegram_bot_token",
    "telegram_webhook_secret",
)
MIN_SECRET_LENGTH = 4


def database_password(url: str) -> str | None:
    """The password in a database URL (``scheme://user:password@host/name``), if it has one."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def load_settings() -> Settings:
    return Settings()
