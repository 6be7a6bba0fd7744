"""Repeated mapping keys in a YAML node tree.

PyYAML silently keeps the last of two equal keys; a catalog author who types ``steps`` twice
would lose half the steps without noticing, so the catalog and its tables report them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["repeated_keys"]


def repeated_keys(root: Any) -> list[tuple[str, int]]:
    """Every repeated key under ``root`` (a composed YAML node): (key, line), sorted by line."""
    import yaml  # imported here: the CLI's --help must not pay for it

    found: list[tuple[str, int]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in seen:
                    found.append((key, key_node.start_mark.line + 1))
                seen.add(key)
                stack.append(value_node)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return sorted(found, key=lambda pair: pair[1])
