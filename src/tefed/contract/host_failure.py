"""The failure one host of a federation over several hosts tells the others.

Each host's ``tefed run`` supervises only its own processes and writes only its own run
folder. When one of them fails, that ``tefed run`` ends the federation with a HELICS global
error whose message is a `HostFailure` (``to_error_text``); every federate, wherever it runs,
reads it back from the error it got (``from_error_text``) and records the federate named in
it as the one that failed, so every host's ``status.json`` names the same federate.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError

#: What starts the message of a global error that carries a `HostFailure`.
HOST_FAILURE_TAG = "tefed-host-failure "


class HostFailure(BaseModel):
    """A failure on one host: the federate that failed (None when the run ended otherwise,
    e.g. at its wall-clock limit or interrupted), the host, and what happened."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    federate: str | None
    host: str
    message: str

    def to_error_text(self) -> str:
        """The message of the global error that carries this failure."""
        return HOST_FAILURE_TAG + self.model_dump_json()

    @classmethod
    def from_error_text(cls, text: str) -> HostFailure | None:
        """The failure carried by a HELICS error's text (which HELICS prefixes with its
        code), or None when the error carries none."""
        _, tag, payload = text.partition(HOST_FAILURE_TAG)
        if not tag:
            return None
        try:
            return cls.model_validate_json(payload)
        except ValidationError:
            return None

    def described(self) -> str:
        """The failure as a sentence that names the host."""
        return f"{self.message} (on host {self.host})"
