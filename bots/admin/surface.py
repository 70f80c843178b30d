"""The surface factory `llmos run` calls: the admin service and web chat always start with LLMOS."""

from __future__ import annotations

from bots.admin.service import AdminService
from bots.admin.settings import load_admin_settings
from workers.stack import Stack


def admin_surface(stack: Stack) -> AdminService:
    return AdminService.for_stack(stack, load_admin_settings())
