"""What the client raises: every failure is a ``DVIDError`` with the server's one-line message."""

from __future__ import annotations


class DVIDError(RuntimeError):
    """A non-200 answer: ``status`` and the server's one-line ``message`` (DVID's
    ``"<msg> (<path>)."``), plus the ``url`` asked."""

    def __init__(self, status: int, message: str, url: str) -> None:
        super().__init__(f"{status}: {message} [{url}]" if status else f"{message} [{url}]")
        self.status = status
        self.message = message
        self.url = url


class DVIDConnectionError(DVIDError):
    """The server could not be reached (refused, unknown host, timed out): ``status`` is 0."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(0, message, url)


class ServerBusy(DVIDError):
    """503: the server's throttle is full; try again later (libdvid retries these)."""


class UnsupportedVolume(DVIDError):
    """The instance is not an image volume this client can turn into a numpy array."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(0, message, url)
