"""Domain errors every layer may raise, each with a one-line, client-facing message.

They say what went wrong, not how HTTP reports it: the server maps them to DVID's status codes in
one place (``server/http.py: status_of``). Kept outside the layered packages so storage,
datastore, datatypes and server can all use them.
"""


class DVIDError(Exception):
    """Base of errors that carry a client-facing one-line message."""


class BadRequest(DVIDError):
    """Bad input, unknown UUID/name, locked node...: DVID's generic refusal (a 400 with the text)."""


class UnknownInstance(BadRequest):
    """No data instance of that name in the repo."""


class WrongType(BadRequest):
    """An instance exists but is not of the type the request needs (e.g. ``?roi=`` naming an image)."""


class Conflict(BadRequest):
    """The request contradicts the stored state (e.g. two parents of a merge disagree on a key)."""


class Contended(BadRequest):
    """Shared state changed under the request too often to apply it; the client may retry."""


class NotFound(DVIDError):
    """Only for the few places DVID itself answers 404 (unmatched routes, missing blob refs)."""


class Throttled(DVIDError):
    """No free throttle slot (DVID's 503 ``Server already running N throttled operations``)."""
