"""The repositories: what handlers and jobs read and write through, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import event, func, select

from kernel import Role
from storage.campaigns import Campaigns
from storage.conversations import Conversations
from storage.database import Database
from storage.events import ProcessedEvents
from storage.health import Health
from storage.members import Members
from storage.models import (
    Campaign,
    ChatBinding,
    Conversation,
    Member,
    Organisation,
    OutboxMessage,
    ProcessedEvent,
    Stage,
    Unit,
)
from storage.outbox import MAX_ATTEMPTS, Outbox
from storage.units import Units

NOW = dt.datetime(2027, 3, 15, 0, 30, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


@dataclass
class Tree:
    """An organisation with a unit tree: county → (east → (outlet-a, outlet-b), west)."""

    organisation: int
    county: int
    east: int
    west: int
    outlet_a: int
    outlet_b: int


async def _tree(database: Database, key: str = "psbc") -> Tree:
    async with database.transaction() as session:
        organisation = Organisation(key=key, name_zh="邮储银行", name_en="PSBC", created_at=NOW)
        session.add(organisation)
        await session.flush()
        ids: dict[str, int] = {}
        for unit_key, parent, depth in (
            ("county", None, 0),
            ("east", "county", 1),
            ("west", "county", 1),
            ("outlet-a", "east", 2),
            ("outlet-b", "east", 2),
        ):
            unit = Unit(
                organisation_id=organisation.id,
                parent_id=ids[parent] if parent else None,
                key=unit_key,
                name_zh=f"{unit_key}单位",
                name_en=unit_key,
                timezone="Asia/Shanghai",
                locale="zh",
                morning_meeting="08:30",
                calendar={},
                depth=depth,
            )
            session.add(unit)
            await session.flush()
            ids[unit_key] = unit.id
        return Tree(
            organisation.id,
            ids["county"],
            ids["east"],
            ids["west"],
            ids["outlet-a"],
            ids["outlet-b"],
        )


async def _count(database: Database, model: type) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# --- members --------------------------------------------------------------------------------


async def test_members_add_identities_and_find_them(database: Database) -> None:
    tree = await _tree(database)
    async with database.transaction() as session:
        members = Members(session)
        wang = await members.add(
            organisation_id=tree.organisation,
            unit_id=tree.outlet_a,
            display_name="王芳",
            role=Role.STAFF,
            now=NOW,
        )
        chen = await members.add(
            organisation_id=tree.organisation,
            unit_id=tree.outlet_a,
            display_name="陈静",
            role=Role.SUPERVISOR,
            now=NOW,
            is_unit_head=True,
            locale="en",
        )
        assert isinstance(wang.id, int) and chen.id > wang.id
        slack = await members.add_identity(
            wang,
            platform="slack",
            workspace="T01",
            external_id="U01",
            now=NOW,
            private_chat_id="D01",
            platform_locale="zh-CN",
        )
        telegram = await members.add_identity(
            wang, platform="telegram", external_id="42", now=NOW, private_chat_id="42"
        )
        await members.add_identity(wang, platform="console", external_id="wang", now=NOW)
        assert slack.member_id == telegram.member_id == wang.id
        wang_id, chen_id = wang.id, chen.id

    async with database.transaction() as session:
        members = Members(session)
        found = await members.by_identity("slack", "T01", "U01")
        assert found is not None
        member, identity = found
        assert (member.id, member.display_name, member.role) == (wang_id, "王芳", "staff")
        assert (identity.platform_locale, identity.private_chat_id) == ("zh-CN", "D01")
        by_telegram = await members.by_identity("telegram", "", "42")
        assert by_telegram is not None and by_telegram[0].id == wang_id
        assert await members.by_identity("slack", "T02", "U01") is None  # other workspace
        assert await members.by_identity("telegram", "", "U01") is None  # other platform
        assert await members.by_identity("slack", "T01", "U99") is None

        chen_row = await members.get(chen_id)
        assert chen_row is not None
        assert (chen_row.is_unit_head, chen_row.locale, chen_row.role) == (True, "en", "supervisor")

        # private chats: only identities we can write to, most recent first; console has none
        chats = await members.private_chats(wang_id)
        assert [(c.platform, c.private_chat_id) for c in chats] == [
            ("telegram", "42"),
            ("slack", "D01"),
        ]
        assert await members.private_chats(chen_id) == []


async def test_members_of_unit_are_the_active_ones_in_order(database: Database) -> None:
    tree = await _tree(database)
    async with database.transaction() as session:
        members = Members(session)
        names = {}
        for name, unit_id in (
            ("甲", tree.outlet_a),
            ("乙", tree.outlet_b),
            ("丙", tree.outlet_a),
            ("丁", tree.outlet_a),
        ):
            member = await members.add(
                organisation_id=tree.organisation,
                unit_id=unit_id,
                display_name=name,
                role=Role.STAFF,
                now=NOW,
            )
            names[name] = member.id
        left = await members.get(names["丁"])
        assert left is not None
        left.active = False

    async with database.transaction() as session:
        members = Members(session)
        assert [m.display_name for m in await members.of_unit(tree.outlet_a)] == ["甲", "丙"]
        assert [m.display_name for m in await members.of_unit(tree.outlet_b)] == ["乙"]
        assert await members.of_unit(tree.west) == []


# --- units -------------------------------------------------------------------------------------


async def test_units_by_key_chats_and_subtree(database: Database) -> None:
    tree = await _tree(database)
    other = await _tree(database, key="other-bank")
    async with database.transaction() as session:
        units = Units(session)
        east = await units.by_key(tree.organisation, "east")
        assert east is not None and (east.id, east.name_zh) == (tree.east, "east单位")
        assert (await units.by_key(other.organisation, "east")).id == other.east  # type: ignore[union-attr]
        assert await units.by_key(tree.organisation, "nowhere") is None

        assert await units.bind_chat(tree.outlet_a, "telegram", "", "-1001", NOW) is True
        assert await units.bind_chat(tree.outlet_a, "slack", "T01", "C01", NOW) is True
        # the same chat again, even for another unit: refused, and stays with its first unit
        assert await units.bind_chat(tree.outlet_a, "telegram", "", "-1001", NOW) is False
        assert await units.bind_chat(tree.west, "telegram", "", "-1001", NOW) is False
        # the same channel id in another Slack workspace is another chat
        assert await units.bind_chat(tree.west, "slack", "T02", "C01", NOW) is True

    async with database.transaction() as session:
        units = Units(session)
        bound = await units.for_chat("telegram", "", "-1001")
        assert bound is not None and bound.id == tree.outlet_a
        assert (await units.for_chat("slack", "T01", "C01")).id == tree.outlet_a  # type: ignore[union-attr]
        assert (await units.for_chat("slack", "T02", "C01")).id == tree.west  # type: ignore[union-attr]
        assert await units.for_chat("slack", "T03", "C01") is None
        assert await units.for_chat("telegram", "", "-1002") is None
        assert [c.chat_id for c in await units.chats(tree.outlet_a)] == ["-1001", "C01"]

        assert await units.subtree_ids(tree.county) == sorted(
            [tree.county, tree.east, tree.west, tree.outlet_a, tree.outlet_b]
        )
        assert await units.subtree_ids(tree.east) == sorted(
            [tree.east, tree.outlet_a, tree.outlet_b]
        )
        assert await units.subtree_ids(tree.outlet_b) == [tree.outlet_b]
        assert await units.subtree_ids(999_999) == []
        # another organisation's tree never leaks in
        assert await units.subtree_ids(other.county) == sorted(
            [other.county, other.east, other.west, other.outlet_a, other.outlet_b]
        )
    assert await _count(database, ChatBinding) == 3


# --- campaigns ---------------------------------------------------------------------------------


def _campaign(organisation_id: int, key: str, starts_on: dt.date, ends_on: dt.date) -> Campaign:
    return Campaign(
        organisation_id=organisation_id,
        key=key,
        title_zh=key,
        title_en=key,
        timezone="Asia/Shanghai",
        locale="zh",
        starts_on=starts_on,
        ends_on=ends_on,
        plan={},
        plan_digest=key,
        loaded_at=NOW,
    )


async def test_current_campaign_running_upcoming_or_last(database: Database) -> None:
    tree = await _tree(database)
    other = await _tree(database, key="other-bank")
    d = dt.date
    async with database.transaction() as session:
        session.add_all(
            [
                _campaign(tree.organisation, "y2026", d(2026, 1, 1), d(2026, 12, 31)),
                _campaign(tree.organisation, "spring", d(2027, 3, 1), d(2027, 5, 31)),
                _campaign(tree.organisation, "autumn", d(2027, 9, 1), d(2027, 11, 30)),
                _campaign(other.organisation, "theirs", d(2027, 1, 1), d(2027, 12, 31)),
            ]
        )

    async with database.transaction() as session:
        campaigns = Campaigns(session)

        async def current(on: dt.date, organisation_id: int = tree.organisation) -> str | None:
            found = await campaigns.current(organisation_id, on)
            return None if found is None else found.key

        assert await current(d(2026, 6, 1)) == "y2026"  # running
        assert await current(d(2027, 3, 1)) == "spring"  # running, first day
        assert await current(d(2027, 5, 31)) == "spring"  # running, last day
        assert await current(d(2027, 1, 15)) == "spring"  # between: the next to start
        assert await current(d(2027, 7, 1)) == "autumn"  # between: the next to start
        assert await current(d(2025, 1, 1)) == "y2026"  # before everything: the first
        assert await current(d(2028, 2, 1)) == "autumn"  # all past: the last one
        assert await current(d(2027, 7, 1), other.organisation) == "theirs"
        assert await current(d(2027, 7, 1), tree.organisation + 1000) is None


async def test_stage_on_a_date(database: Database) -> None:
    tree = await _tree(database)
    d = dt.date
    async with database.transaction() as session:
        campaign = _campaign(tree.organisation, "y2027", d(2027, 1, 1), d(2027, 12, 31))
        session.add(campaign)
        await session.flush()
        for position, (key, first, last, active) in enumerate(
            [
                ("one", d(2027, 1, 1), d(2027, 4, 30), True),
                ("two", d(2027, 5, 10), d(2027, 8, 31), True),
                ("dropped", d(2027, 9, 1), d(2027, 12, 31), False),
            ],
            start=1,
        ):
            session.add(
                Stage(
                    campaign_id=campaign.id,
                    key=key,
                    position=position,
                    name_zh=key,
                    name_en=key,
                    focus_zh="",
                    focus_en="",
                    starts_on=first,
                    ends_on=last,
                    active=active,
                )
            )
        campaign_id = campaign.id

    async with database.transaction() as session:
        campaigns = Campaigns(session)

        async def stage_on(on: dt.date) -> str | None:
            stage = await campaigns.stage_on(campaign_id, on)
            return None if stage is None else stage.key

        assert await stage_on(d(2027, 1, 1)) == "one"
        assert await stage_on(d(2027, 4, 30)) == "one"
        assert await stage_on(d(2027, 5, 5)) is None  # the gap between stages
        assert await stage_on(d(2027, 5, 10)) == "two"
        assert await stage_on(d(2027, 10, 1)) is None  # an inactive stage does not count
        assert await stage_on(d(2026, 12, 31)) is None
        assert [s.key for s in await campaigns.stages(campaign_id)] == ["one", "two"]


# --- processed events ----------------------------------------------------------------------------


async def test_processed_events_first_time_only(database: Database) -> None:
    async with database.transaction() as session:
        events = ProcessedEvents(session)
        assert await events.first_time("slack", "Ev1", NOW) is True
        assert await events.first_time("slack", "Ev1", NOW) is False
        assert await events.first_time("telegram", "Ev1", NOW) is True
    async with database.transaction() as session:
        events = ProcessedEvents(session)
        assert await events.first_time("slack", "Ev1", NOW + MINUTE) is False
        assert await events.first_time("slack", "Ev2", NOW + MINUTE) is True
    assert await _count(database, ProcessedEvent) == 3


async def test_processed_event_is_forgotten_when_its_transaction_fails(
    database: Database,
) -> None:
    with pytest.raises(RuntimeError, match="handler failed"):
        async with database.transaction() as session:
            assert await ProcessedEvents(session).first_time("slack", "Ev9", NOW) is True
            raise RuntimeError("handler failed")
    assert await _count(database, ProcessedEvent) == 0
    # the platform's retry is handled again, and then recorded
    async with database.transaction() as session:
        assert await ProcessedEvents(session).first_time("slack", "Ev9", NOW) is True
    async with database.transaction() as session:
        assert await ProcessedEvents(session).first_time("slack", "Ev9", NOW) is False


async def test_processed_events_housekeeping(database: Database) -> None:
    async with database.transaction() as session:
        events = ProcessedEvents(session)
        for minutes, event_id in ((0, "old"), (10, "older-edge"), (60, "new")):
            await events.first_time("slack", event_id, NOW + minutes * MINUTE)
    async with database.transaction() as session:
        assert await ProcessedEvents(session).forget_before(NOW + 10 * MINUTE) == 1
    async with database.transaction() as session:
        kept = await session.scalars(select(ProcessedEvent.event_id).order_by(ProcessedEvent.id))
        assert list(kept) == ["older-edge", "new"]


# --- outbox -----------------------------------------------------------------------------------


async def _enqueue(
    database: Database, key: str, platform: str, due_at: dt.datetime, chat_id: str = "chat"
) -> bool:
    async with database.transaction() as session:
        return await Outbox(session).enqueue(
            key=key,
            platform=platform,
            chat_id=chat_id,
            reply={"template": "notice", "data": {"text": f"通知 {key}"}},
            locale="zh",
            due_at=due_at,
            now=NOW,
        )


async def test_outbox_enqueue_once_per_key(database: Database) -> None:
    tree = await _tree(database)
    async with database.transaction() as session:
        outbox = Outbox(session)
        first = await outbox.enqueue(
            key="drill:1:2027-03-15",
            platform="telegram",
            chat_id="-1001",
            reply={"template": "drill", "data": {"question": "如何迎客？"}},
            locale="zh",
            due_at=NOW,
            now=NOW,
            unit_id=tree.outlet_a,
        )
        second = await outbox.enqueue(
            key="drill:1:2027-03-15",
            platform="slack",
            chat_id="C999",
            reply={"template": "other"},
            locale="en",
            due_at=NOW + MINUTE,
            now=NOW,
        )
        assert (first, second) == (True, False)
    # a second scheduler in its own transaction is refused too
    assert await _enqueue(database, "drill:1:2027-03-15", "console", NOW) is False
    assert await _count(database, OutboxMessage) == 1
    async with database.transaction() as session:
        message = await Outbox(session).by_key("drill:1:2027-03-15")
        assert message is not None
        assert (message.platform, message.chat_id, message.locale) == ("telegram", "-1001", "zh")
        assert message.reply == {"template": "drill", "data": {"question": "如何迎客？"}}
        assert (message.status, message.attempts, message.next_attempt_at) == ("pending", 0, NOW)
        assert message.unit_id == tree.outlet_a and message.member_id is None


async def test_outbox_due_only_pending_rows_due_now_on_the_given_platforms(
    database: Database,
) -> None:
    assert await _enqueue(database, "slack-due-late", "slack", NOW - MINUTE)
    assert await _enqueue(database, "slack-due-early", "slack", NOW - 5 * MINUTE)
    assert await _enqueue(database, "slack-due-exactly-now", "slack", NOW)
    assert await _enqueue(database, "slack-future", "slack", NOW + MINUTE)
    assert await _enqueue(database, "telegram-due", "telegram", NOW - 2 * MINUTE)
    assert await _enqueue(database, "console-due", "console", NOW - 10 * MINUTE)
    assert await _enqueue(database, "slack-sent", "slack", NOW - 20 * MINUTE)
    assert await _enqueue(database, "slack-failed", "slack", NOW - 20 * MINUTE)
    assert await _enqueue(database, "slack-skipped", "slack", NOW - 20 * MINUTE)
    async with database.transaction() as session:
        outbox = Outbox(session)
        sent = await outbox.by_key("slack-sent")
        failed = await outbox.by_key("slack-failed")
        skipped = await outbox.by_key("slack-skipped")
        assert sent is not None and failed is not None and skipped is not None
        Outbox.mark_sent(sent, NOW, "ts-1")
        Outbox.mark_failed(failed, "channel_not_found", final=True, retry_at=NOW)
        Outbox.mark_skipped(skipped, "unit left the campaign")

    async with database.transaction() as session:
        outbox = Outbox(session)
        due = await outbox.due(NOW, {"slack", "telegram"})
        assert [m.idempotency_key for m in due] == [
            "slack-due-early",
            "telegram-due",
            "slack-due-late",
            "slack-due-exactly-now",
        ]
        assert [m.idempotency_key for m in await outbox.due(NOW, {"console"})] == ["console-due"]
        assert [m.idempotency_key for m in await outbox.due(NOW, {"slack"}, limit=2)] == [
            "slack-due-early",
            "slack-due-late",
        ]
        assert await outbox.due(NOW, set()) == []
        later = await outbox.due(NOW + MINUTE, {"slack"})
        assert [m.idempotency_key for m in later][-1] == "slack-future"
        assert await Health(session).outbox_counts() == {
            "pending": 6,
            "sent": 1,
            "failed": 1,
            "skipped": 1,
        }
        assert await Health(session).database_answers() is True


async def test_outbox_mark_sent(database: Database) -> None:
    assert await _enqueue(database, "notice", "slack", NOW)
    async with database.transaction() as session:
        outbox = Outbox(session)
        [message] = await outbox.due(NOW, {"slack"})
        Outbox.mark_sent(message, NOW + MINUTE, "1700000000.000100")
    async with database.transaction() as session:
        outbox = Outbox(session)
        message = await outbox.by_key("notice")
        assert message is not None
        assert (message.status, message.attempts) == ("sent", 1)
        assert message.sent_at == NOW + MINUTE
        assert message.platform_message_id == "1700000000.000100"
        assert await outbox.due(NOW + dt.timedelta(days=1), {"slack"}) == []


async def test_outbox_retry_later_never_gives_up_on_a_rate_limit(database: Database) -> None:
    assert await _enqueue(database, "busy", "telegram", NOW)
    for round_ in range(1, MAX_ATTEMPTS + 3):
        async with database.transaction() as session:
            outbox = Outbox(session)
            [message] = await outbox.due(NOW + round_ * MINUTE, {"telegram"})
            Outbox.retry_later(message, NOW + (round_ + 1) * MINUTE, "429 retry_after=60")
    async with database.transaction() as session:
        outbox = Outbox(session)
        message = await outbox.by_key("busy")
        assert message is not None
        assert (message.status, message.attempts) == ("pending", 0)
        assert message.last_error == "429 retry_after=60"
        rounds = MAX_ATTEMPTS + 3
        assert message.next_attempt_at == NOW + rounds * MINUTE
        assert await outbox.due(NOW + (rounds - 1) * MINUTE, {"telegram"}) == []
        assert [m.id for m in await outbox.due(NOW + rounds * MINUTE, {"telegram"})] == [message.id]


async def test_outbox_mark_failed_gives_up_after_max_attempts(database: Database) -> None:
    assert await _enqueue(database, "flaky", "slack", NOW)
    for attempt in range(1, MAX_ATTEMPTS):
        async with database.transaction() as session:
            outbox = Outbox(session)
            [message] = await outbox.due(NOW + attempt * MINUTE, {"slack"})
            Outbox.mark_failed(
                message, f"timeout {attempt}", final=False, retry_at=NOW + (attempt + 1) * MINUTE
            )
        async with database.transaction() as session:
            message = await Outbox(session).by_key("flaky")
            assert message is not None
            assert (message.status, message.attempts) == ("pending", attempt)
            assert message.next_attempt_at == NOW + (attempt + 1) * MINUTE

    async with database.transaction() as session:
        outbox = Outbox(session)
        [message] = await outbox.due(NOW + MAX_ATTEMPTS * MINUTE, {"slack"})
        Outbox.mark_failed(message, "timeout again", final=False, retry_at=NOW + dt.timedelta(1))
    async with database.transaction() as session:
        outbox = Outbox(session)
        message = await outbox.by_key("flaky")
        assert message is not None
        assert (message.status, message.attempts) == ("failed", MAX_ATTEMPTS)
        assert message.last_error == "timeout again"
        assert await outbox.due(NOW + dt.timedelta(days=30), {"slack"}) == []


async def test_outbox_mark_failed_final_fails_at_once(database: Database) -> None:
    assert await _enqueue(database, "blocked", "telegram", NOW)
    async with database.transaction() as session:
        outbox = Outbox(session)
        [message] = await outbox.due(NOW, {"telegram"})
        Outbox.mark_failed(message, "403 bot was blocked by the user", final=True, retry_at=NOW)
    async with database.transaction() as session:
        message = await Outbox(session).by_key("blocked")
        assert message is not None
        assert (message.status, message.attempts) == ("failed", 1)
        assert message.last_error == "403 bot was blocked by the user"
        assert message.next_attempt_at == NOW


# --- conversations -----------------------------------------------------------------------------


async def _member(database: Database, tree: Tree, name: str) -> int:
    async with database.transaction() as session:
        member = await Members(session).add(
            organisation_id=tree.organisation,
            unit_id=tree.outlet_a,
            display_name=name,
            role=Role.STAFF,
            now=NOW,
        )
        return member.id


async def test_conversation_start_move_end(database: Database) -> None:
    tree = await _tree(database)
    wang, li = await _member(database, tree, "王芳"), await _member(database, tree, "李强")
    async with database.transaction() as session:
        conversations = Conversations(session)
        assert await conversations.current(wang) is None
        started = await conversations.start(wang, "selfcheck", "item-1", {"run_id": 3}, NOW)
        assert isinstance(started.id, int)
        await conversations.start(li, "deed", "describe", {}, NOW)

    data = {"run_id": 3, "answers": {"hw-shop-sign": "pass"}, "备注": "店招完好"}
    async with database.transaction() as session:
        conversations = Conversations(session)
        conversation = await conversations.current(wang)
        assert conversation is not None
        assert (conversation.flow, conversation.step, conversation.data) == (
            "selfcheck",
            "item-1",
            {"run_id": 3},
        )
        await conversations.move(conversation, "item-2", data, NOW + MINUTE)
    data["run_id"] = 99  # the caller's dict is not shared with the stored state

    async with database.transaction() as session:
        conversations = Conversations(session)
        moved = await conversations.current(wang)
        assert moved is not None
        assert (moved.step, moved.updated_at) == ("item-2", NOW + MINUTE)
        assert moved.data == {"run_id": 3, "answers": {"hw-shop-sign": "pass"}, "备注": "店招完好"}
        await conversations.end(wang)
        assert await conversations.current(wang) is None

    async with database.transaction() as session:
        conversations = Conversations(session)
        assert await conversations.current(wang) is None
        other = await conversations.current(li)  # ending one person's flow leaves others alone
        assert other is not None and other.flow == "deed"
    assert await _count(database, Conversation) == 1


async def test_starting_a_flow_replaces_the_open_one(database: Database) -> None:
    tree = await _tree(database)
    wang = await _member(database, tree, "王芳")
    async with database.transaction() as session:
        await Conversations(session).start(wang, "selfcheck", "item-5", {"run_id": 1}, NOW)

    async with database.transaction() as session:
        conversations = Conversations(session)
        old = await conversations.current(wang)  # loaded into this session first
        assert old is not None and old.flow == "selfcheck"
        new = await conversations.start(wang, "deed", "describe", {"名称": "拾金不昧"}, NOW)
        assert new is not old  # (SQLite may reuse the deleted row's id)
        current = await conversations.current(wang)
        assert current is new and (current.flow, current.step) == ("deed", "describe")
        assert current.data == {"名称": "拾金不昧"}
        # and again within the same transaction
        third = await conversations.start(wang, "observe", "kind", {}, NOW + MINUTE)
        assert (await conversations.current(wang)).id == third.id  # type: ignore[union-attr]

    async with database.transaction() as session:
        rows = list(await session.scalars(select(Conversation)))
        assert [(c.member_id, c.flow, c.step, c.data) for c in rows] == [
            (wang, "observe", "kind", {})
        ]
        member = await session.get(Member, wang)
        assert member is not None and member.display_name == "王芳"


async def test_a_unit_of_work_reads_a_persons_flow_once_and_forgets_a_rolled_back_one(
    database: Database,
) -> None:
    """An event asks for the person's flow several times (a form put aside, the routing, the
    handler): one read, then what this unit of work started or ended. A savepoint rolled back
    takes back what it started, and the next question reads again."""
    tree = await _tree(database)
    wang = await _member(database, tree, "王芳")
    reads: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM conversation" in statement:
            reads.append(statement)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        async with database.store() as store:
            assert await store.conversations.current(wang) is None
            assert await store.conversations.current(wang) is None
            assert len(reads) == 1
            started = await store.conversations.start(wang, "deed", "describe", {}, NOW)
            assert await store.conversations.current(wang) is started
            await store.conversations.end(wang)
            assert await store.conversations.current(wang) is None
            assert len(reads) == 1
            with pytest.raises(RuntimeError):
                async with store.savepoint():
                    await store.conversations.start(wang, "observe", "kind", {}, NOW)
                    raise RuntimeError("the handler failed")
            assert await store.conversations.current(wang) is None
            assert len(reads) == 2
    finally:
        event.remove(engine, "before_cursor_execute", count)
