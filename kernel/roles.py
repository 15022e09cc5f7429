"""Roles (角色) a member holds in an organisation, and the sets of them that commands admit."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    STAFF = "staff"  # 员工
    SUPERVISOR = "supervisor"  # 负责人
    ADMIN = "admin"  # 领导小组办公室
    VOLUNTEER = "volunteer"  # 义务监督员


EVERYONE: frozenset[Role] = frozenset(Role)
STAFF_AND_ABOVE: frozenset[Role] = frozenset({Role.STAFF, Role.SUPERVISOR, Role.ADMIN})
SUPERVISORS: frozenset[Role] = frozenset({Role.SUPERVISOR, Role.ADMIN})
ADMINS: frozenset[Role] = frozenset({Role.ADMIN})
