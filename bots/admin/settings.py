"""Settings of the admin HTTP service (`ADMIN_*`), built where the service starts and passed down."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.settings import SettingsError

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


class AdminSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ADMIN_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    host: str = "127.0.0.1"
    # 0 picks a free port (tests); the summary of `llmos run` prints the one in use.
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    # Host names the service answers to (DNS-rebinding guard). Empty: loopback names when bound to
    # loopback, any name otherwise.
    allowed_hosts: list[str] = Field(default_factory=list)
    # The web chat without an admin key. "auto": only while the service listens on loopback, where it is
    # as private as `llmos chat`.
    open_chat: str = "auto"
    # Signed requests older or newer than this are refused (replay window).
    signature_window_seconds: Annotated[int, Field(ge=30, le=3600)] = 300
    # Outbound deliveries: tries, first retry delay (doubling, with jitter), cap between tries.
    delivery_attempts: Annotated[int, Field(ge=1, le=30)] = 8
    delivery_backoff_seconds: Annotated[float, Field(gt=0)] = 2.0
    delivery_backoff_max_seconds: Annotated[float, Field(gt=0)] = 900.0
    # The whole of one delivery (resolve, connect, send, read the answer); kept under the 60 s claim lease.
    delivery_timeout_seconds: Annotated[float, Field(gt=0, le=50)] = 10.0
    poll_seconds: Annotated[float, Field(gt=0)] = 1.0
    # Callback and webhook URLs on private, loopback or link-local addresses are refused unless allowed
    # (a tenant must not make LLMOS call the cloud metadata service or an internal admin port).
    allow_private_urls: bool = False
    engine_check_seconds: Annotated[float, Field(gt=0)] = 15.0
    # A request body must arrive whole within this time (a trickled body is cut with 408).
    body_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    # Fernet key(s) sealing hook and webhook secrets at rest; the first seals, all open (rotation).
    # Unset: a key made once in LLMOS_HOME/admin-secret.key.
    secret_key: SecretStr | None = None
    # Time a web chat waits on the answer stream before giving up.
    chat_reply_timeout_seconds: Annotated[float, Field(gt=0)] = 300.0
    # A keep-alive comment on a web chat stream this often while nothing else is sent.
    chat_ping_seconds: Annotated[float, Field(gt=0)] = 15.0

    @field_validator("secret_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        from cryptography.fernet import Fernet

        for key in value.get_secret_value().split(","):
            try:
                Fernet(key.strip())
            except ValueError:
                raise ValueError("must be Fernet keys (url-safe base64 of 32 bytes), comma-separated") from None
        return value

    @property
    def on_loopback(self) -> bool:
        if self.host in LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def public_hosts(self) -> list[str]:
        """Names in ADMIN_ALLOWED_HOSTS other than this machine's: the service is meant to be reached from afar."""
        return [h for h in self.allowed_hosts if h.strip("[]").lower() not in LOOPBACK_NAMES]

    @property
    def chat_is_open(self) -> bool:
        """Whether the keyless chat may be offered at all (each request must also come from this machine)."""
        if self.public_hosts:
            return False
        if self.open_chat == "auto":
            return self.on_loopback
        return self.open_chat.lower() in TRUE_WORDS

    @property
    def trusted_hosts(self) -> list[str]:
        if self.allowed_hosts:
            return self.allowed_hosts
        return ["localhost", "127.0.0.1", "[::1]", "::1"] if self.on_loopback else ["*"]


def load_admin_settings(**overrides: object) -> AdminSettings:
    """AdminSettings from the environment, with errors that name the `ADMIN_*` variable."""
    try:
        settings = AdminSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = [f"ADMIN_{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors() if e["loc"]]
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None
    if settings.open_chat.lower() not in {"auto", "1", "true", "yes", "on", "0", "false", "no", "off"}:
        raise SettingsError("ADMIN_OPEN_CHAT: must be auto, true or false")
    if settings.open_chat.lower() in TRUE_WORDS and settings.public_hosts:
        raise SettingsError(
            "ADMIN_OPEN_CHAT: the keyless web chat cannot be open while ADMIN_ALLOWED_HOSTS names "
            f"{', '.join(settings.public_hosts)}; set it to auto or false"
        )
    return settings
