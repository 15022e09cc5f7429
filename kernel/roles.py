"""Roles (角色) a member holds in an organisation, and the sets of them that commands admit."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Each role is called by one word per language (``messages/<locale>/roles/<role>.j2``) and
    typed in any language's words (``messages/<locale>/roles/words.yaml``)."""

    STAFF = "staff"  # 员工
    SUPERVISOR = "supervisor"  # 主管 (a unit's head, 网点负责人 in the plans)
    ADMIN = "admin"  # 管理员 (the campaign office, 领导小组办公室)
    VOLUNTEER = "volunteer"  # 监督员 (义务监督员)


EVERYONE: frozenset[Role] = frozenset(Role)
STAFF_AND_ABOVE: frozenset[Role] = frozenset({Role.STAFF, Role.SUPERVISOR, Role.ADMIN})
SUPERVISORS: frozenset[Role] = frozenset({Role.SUPERVISOR, Role.ADMIN})
ADMINS: frozenset[Role] = frozenset({Role.ADMIN})
