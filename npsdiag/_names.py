"""User names as the event families write them, reduced to one key for joining.

The extension, NPS and the RADIUS clients' own logs (RD Gateway, the Windows VPN client, RRAS)
each write the same person in their own form; :func:`user_key` makes them comparable.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["EMPTY_VALUES", "QUOTES", "upn_domain", "user_key"]

#: Quotes that surround a name in some messages ("for the user `alice`").
QUOTES = "'\"`"
#: Values NPS writes for "nothing" in Security events, plus the mask of an absent user name.
EMPTY_VALUES = frozenset({"", "-", "n/a", "null sid"})


def upn_domain(names: Iterable[str | None]) -> str | None:
    """The domain of the first name that is a UPN (``alice@Contoso.com`` -> ``contoso.com``).

    The domain a user signs in with names the Entra tenant the extension asks; a
    ``DOMAIN\\sam`` name says nothing about it.
    """
    for name in names:
        if name and "@" in name:
            domain = name.rsplit("@", 1)[1].strip().strip(QUOTES).lower()
            if domain:
                return domain
    return None


def user_key(user: str | None) -> str | None:
    """Normalise a user name so the same person joins across event families.

    Lower-cases, strips surrounding whitespace and quotes, drops a ``DOMAIN\\`` prefix and an
    ``@domain`` suffix: ``CONTOSO\\Alice``, ``alice@contoso.com`` and ``alice`` all give
    ``alice``.

    Trade-off: a UPN prefix is not always the sAMAccountName (alternate login ids, renamed
    accounts), and two domains may each hold an ``alice``; joins made through this key are
    therefore reported with lower confidence by the diagnosis. Masked names
    (``******@domain.com``) and placeholders (``<USERNAME>``) give None rather than a key that
    would join unrelated people.

    Args:
        user: a user name in any form, or None.

    Returns:
        The key, or None when there is no usable name (``-``, empty, masked).
    """
    if user is None:
        return None
    known = _KEYS.get(user, _UNSEEN)
    if known is not _UNSEEN:
        return known  # type: ignore[return-value]
    key = _user_key(user)
    if len(_KEYS) >= _MAX_KEYS:
        _KEYS.clear()  # hostile input full of distinct names cannot grow it without bound
    _KEYS[user] = key
    return key


#: Keys already worked out: a busy server's log names the same few thousand people again and
#: again, and this runs two or three times per relevant record.
_KEYS: dict[str, str | None] = {}
_MAX_KEYS = 65_536
_UNSEEN = object()


def _user_key(user: str) -> str | None:
    name = user.strip().strip(QUOTES).strip()
    if name.lower() in EMPTY_VALUES:
        return None
    name = name.rpartition("\\")[2]
    if "@" in name:
        name = name.rpartition("@")[0]
    name = name.strip().lower()
    if not name or name == "-" or set(name) <= {"*"}:
        return None
    if name.startswith("<") and name.endswith(">"):
        return None
    return name
