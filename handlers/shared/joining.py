"""The way in for someone the campaign does not know yet, said the same way wherever they ask
(/help, /start, /join, the home screen): an invitation, or asking a supervisor to approve, as the
organisation of the chat they are in lets people in."""

from __future__ import annotations

from kernel import ChatRef, Text
from storage.models import Organisation
from storage.store import Store


async def organisation_of(store: Store, chat: ChatRef) -> Organisation | None:
    """The organisation a stranger is asking about: the one of the group chat they are in, or
    the only one there is; None when it cannot be told."""
    bound = await store.units.for_chat(chat.platform, chat.workspace, chat.chat_id)
    if bound is not None:
        return await store.units.organisation(bound.organisation_id)
    organisations = await store.units.organisations()
    return organisations[0] if len(organisations) == 1 else None


async def way_in(store: Store, chat: ChatRef) -> Text:
    """How a stranger gets in, as a sentence."""
    organisation = await organisation_of(store, chat)
    if organisation is None:
        return Text("shared/way_in_ask_in_group")
    if organisation.joining == "approval":
        return Text("shared/way_in_approval")
    return Text("shared/way_in_invitation")
