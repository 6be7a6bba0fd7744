"""Who is who: one person per set of names that the logs use for the same account.

The extension names a user as typed (``alice@contoso.com``), NPS as sent and as resolved
(``CONTOSO\\alice``); ``Finding.identity_keys`` normalises these forms. Every count of users
(the summary, a problem's users, the affected users, the batch index) is a count of the
persons found here, and every report shows a person under the same name, so that the numbers
of one report agree with each other and with the other formats.
"""

from __future__ import annotations

from collections.abc import Sequence

from npsdiag.model import Incident, as_utc

__all__ = ["assign_people", "group_people", "person_names"]

_Node = tuple[str, str]


def group_people(incidents: Sequence[Incident]) -> list[list[Incident]]:
    """Group incidents by person, each group in the given order, groups by first incident.

    Two incidents are the same person when any finding of one shares an identity key
    (``Finding.identity_keys``: the UPN, ``DOMAIN\\user`` and bare forms normalise alike)
    with a finding of the other, or when they name the user in exactly the same way;
    sharing is transitive. Incidents with neither a user nor a key belong to no one.
    """
    parent: dict[_Node, _Node] = {}

    def root(node: _Node) -> _Node:
        top = node
        while parent[top] != top:
            top = parent[top]
        while parent[node] != top:  # path compression keeps thousands of users fast
            parent[node], node = top, parent[node]
        return top

    tagged: list[tuple[Incident, _Node]] = []
    for incident in incidents:
        nodes = [("key", key) for finding in incident.findings for key in finding.identity_keys]
        if incident.user:
            nodes.append(("name", incident.user))
        nodes = [node for node in nodes if node[1]]
        if not nodes:
            continue
        for node in nodes:
            parent.setdefault(node, node)
        first = root(nodes[0])
        for node in nodes[1:]:
            other = root(node)
            if other != first:
                # The smaller node becomes the root, so grouping does not depend on order.
                first, other = min(first, other), max(first, other)
                parent[other] = first
        tagged.append((incident, nodes[0]))
    groups: dict[_Node, list[Incident]] = {}
    for incident, node in tagged:
        groups.setdefault(root(node), []).append(incident)
    return list(groups.values())


def person_names(incidents: Sequence[Incident]) -> dict[int, str]:
    """The person of every incident that names someone, by ``id(incident)``.

    An incident whose ``person`` is set keeps it. Otherwise a person is shown under the
    form of the name their earliest attempt used (report order: start, end, key), else
    under their first identity key.
    """
    if all(incident.person is not None or not _names_someone(incident) for incident in incidents):
        # Decided already (the diagnosis assigns every incident its person).
        return {id(incident): incident.person for incident in incidents if incident.person}
    ordered = sorted(incidents, key=lambda i: (as_utc(i.start), as_utc(i.end), i.key))
    names: dict[int, str] = {}
    for group in group_people(ordered):
        name = next((incident.user for incident in group if incident.user), None)
        if name is None:
            name = next(
                key
                for incident in group
                for finding in incident.findings
                for key in finding.identity_keys
                if key
            )
        for incident in group:
            names[id(incident)] = incident.person or name
    return names


def _names_someone(incident: Incident) -> bool:
    return bool(incident.user) or any(finding.identity_keys for finding in incident.findings)


def assign_people(incidents: Sequence[Incident]) -> None:
    """Set ``Incident.person`` on every incident that names someone (see :func:`person_names`)."""
    names = person_names(incidents)
    for incident in incidents:
        incident.person = names.get(id(incident))
