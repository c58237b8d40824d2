"""No credentials in URLs: refused wherever DSM takes one, and hidden wherever one is shown.

DSM stores the URLs a job names (an image the iDRAC pulls, a virtual-media ISO) in the job's details, shows
them to viewers (`jobs show`, `media list`), puts them in failure notifications (syslog over UDP, in clear) and
in the audit log. A password written into one would go everywhere with it, so an URL that carries a user or
a password is refused when it is typed; share credentials have their own sealed settings.

The forms DSM accepts, and where their user part sits:

* ``scheme://user:pw@host/path`` (http, https, nfs, cifs, smb);
* ``//user:pw@host/share/x.iso`` (CIFS, UNC-like; also with backslashes);
* ``user:pw@host:/export/x.iso`` (NFS).
"""

from __future__ import annotations

import re

REFUSAL = ("holds a user name or password; DSM stores and shows the URLs jobs name (job details, listings, "
           "notifications, the audit log), so none may carry credentials: an admin sets the share's user and "
           "password (sealed) in virtual_media.username/password or on the repository")

# scheme://userinfo@  |  //userinfo@ or \\userinfo@  |  userinfo@host:/ (NFS), each userinfo up to the @
_USERINFO = re.compile(
    r"(?P<lead>[A-Za-z][A-Za-z0-9+.-]*://|//|\\\\)(?P<info>[^/\\@\s]+)@"
    r"|(?P<nfs>(?<![\w/:@.-])[^\s/\\:@]+(?::[^\s/\\@]*)?)@(?=[^\s/\\@:]+:/)"
)


def _authority(value: str) -> str:
    text = value.strip()
    if "://" in text:
        return re.split(r"[/\\?#]", text.split("://", 1)[1], maxsplit=1)[0]
    if text.startswith(("//", "\\\\")):
        return re.split(r"[/\\]", text[2:], maxsplit=1)[0]
    if ":/" in text:
        return text.split(":/", 1)[0]
    return re.split(r"[/\\]", text, maxsplit=1)[0]


def has_credentials(value: str) -> bool:
    """The URL (or share path) names a user, with or without a password, before its host."""
    return "@" in _authority(value)


def refuse_credentials(value: str) -> str:
    """``value``, or ValueError(REFUSAL) when it carries a user or password (a pydantic validator's use)."""
    if has_credentials(value):
        raise ValueError(REFUSAL)
    return value


def redact_credentials(text: str) -> str:
    """``text`` with the user part of every URL form above replaced by ``[REDACTED]``: for what is shown or
    recorded of a value that was never checked (a row written past DSM, an old audit row)."""

    def hide(match: re.Match[str]) -> str:
        if match.group("lead"):
            return f"{match.group('lead')}[REDACTED]@"
        return "[REDACTED]@"

    return _USERINFO.sub(hide, text)


def url_host(value: str) -> str:
    """The host a URL or share path names (no user, no port), lower-cased; '' when there is none."""
    authority = _authority(value).rsplit("@", 1)[-1]
    if authority.startswith("["):
        return authority[1:].split("]", 1)[0].lower()
    return authority.split(":", 1)[0].lower() if authority.count(":") <= 1 else authority.lower()
