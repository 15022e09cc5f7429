"""Settings, read once from the environment and ``.env`` (documented in ``.env.example``)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from campaigns.schema import check_zone


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field("sqlite:///uplift.db", validation_alias=_env("DATABASE_URL"))
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


def load_settings() -> Settings:
    return Settings()
