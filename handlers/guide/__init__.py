"""The guide: /help (what my role may use) and the home screen (my points, streak and what is
due)."""

from handlers.framework.router import Router
from handlers.guide import guide, home


def register(router: Router) -> None:
    guide.register(router)
    home.register(router)
