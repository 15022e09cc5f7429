"""A Reply survives the outbox: to JSON and back, through json.dumps and json.loads, unchanged."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from kernel import Attachment, Audience, Button, Choice, Form, FormField, Quiz, Reply, Text
from messages import Renderer

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00"
XLSX = bytes(range(256))


def through_json(reply: Reply) -> Reply:
    stored = json.loads(json.dumps(reply.to_json(), ensure_ascii=False))
    return Reply.from_json(stored)


def full_reply(to: Audience) -> Reply:
    return Reply(
        text=Text("guide/help", {"name": "王芳 <@U1>", "count": 3, "ratio": 0.5, "ok": True}),
        buttons=(
            Button(Text("language/name_zh"), "lang.set", "zh", "primary"),
            Button(Text("language/name_en"), "lang.set", "en"),
            Button(Text("errors/stale_button"), "deed.reject", "17", "danger"),
        ),
        form=Form(
            form_id="deed.submit",
            title=Text("deed/title", {"unit": "人民路网点"}),
            fields=(
                FormField("what", Text("deed/what"), kind="long_text", max_length=500),
                FormField(
                    "kind",
                    Text("deed/kind"),
                    kind="choice",
                    choices=(
                        Choice("help", Text("deed/kind_help")),
                        Choice("praise", Text("deed/kind_praise", {"who": "guest"})),
                    ),
                    hint=Text("deed/kind_hint"),
                ),
                FormField("when", Text("deed/when"), kind="date", required=False),
                FormField("people", Text("deed/people"), kind="members", required=False),
                FormField("amount", Text("deed/amount"), kind="number"),
            ),
            submit=Text("deed/submit"),
            state="stage-2:unit-7",
        ),
        quiz=Quiz(
            question="客户抱怨排队太久,第一句应该说什么?",
            options=("请稍等", "抱歉让您久等了", "不是我的问题"),
            correct_option=1,
            explanation="先致歉,再说明。",
            action="drill.answer",
            ref="drill-42",
        ),
        image=Attachment("chart.png", PNG, "image/png", caption=Text("report/chart_caption")),
        file=Attachment(
            "report.xlsx",
            XLSX,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        to=to,
        member_id=12,
        replace_pressed=True,
    )


@pytest.mark.parametrize("to", list(Audience))
def test_full_reply_round_trips(to: Audience) -> None:
    reply = full_reply(to)
    back = through_json(reply)
    assert back == reply
    assert back.to is to
    assert back.image is not None and back.image.content == PNG
    assert back.file is not None and back.file.content == XLSX
    assert back.quiz is not None and back.quiz.options == reply.quiz.options  # type: ignore[union-attr]
    assert isinstance(back.quiz.options, tuple)
    assert back.form is not None
    assert [f.name for f in back.form.fields] == ["what", "kind", "when", "people", "amount"]
    assert back.form.fields[1].choices[1] == Choice(
        "praise", Text("deed/kind_praise", {"who": "guest"})
    )
    assert back.form.fields[1].hint == Text("deed/kind_hint")
    assert back.form.fields[0].max_length == 500
    assert back.form.fields[2].required is False


def test_json_is_plain_data() -> None:
    data = full_reply(Audience.EPHEMERAL).to_json()
    text = json.dumps(data)  # no default=: every value is JSON already
    assert json.loads(text)["to"] == "ephemeral"
    assert json.loads(text)["buttons"][2]["style"] == "danger"
    assert isinstance(json.loads(text)["image"]["content"], dict)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(),
        Reply(text=Text("errors/internal")),
        Reply(text=Text("language/choose"), buttons=(Button(Text("language/name_en"), "a", "b"),)),
        Reply(file=Attachment("empty.csv", b"", "text/csv")),
        Reply(text=Text("errors/not_allowed", {"command": "score"}), to=Audience.PRIVATE),
    ],
)
def test_small_replies_round_trip(reply: Reply) -> None:
    assert through_json(reply) == reply


def test_texts_dates_and_lists_inside_template_data_come_back_as_themselves() -> None:
    """The outbox renders later: a nested role name, a list of lines and a datetime must work."""
    moment = dt.datetime(2026, 5, 11, 0, 30, tzinfo=dt.UTC)
    reply = Reply(
        text=Text(
            "guide/help",
            {
                "name": "Wang Fang",
                "role": Text("roles/supervisor"),
                "lines": [Text("guide/help_help", {"command": "help"}), Text("language/help_lang")],
                "is_member": True,
                "when": moment,
                "day": dt.date(2026, 5, 11),
                "nested": {"inner": Text("roles/staff"), "numbers": [1, 2]},
                "nothing": None,
            },
        ),
        to=Audience.PRIVATE,
        member_id=3,
    )
    back = through_json(reply)
    assert back == reply
    assert back.text is not None
    assert back.text.data["role"] == Text("roles/supervisor")
    assert back.text.data["when"] == moment
    assert back.text.data["when"].tzinfo is not None
    assert back.text.data["day"] == dt.date(2026, 5, 11)
    assert back.text.data["nested"]["inner"] == Text("roles/staff")


def test_a_queued_reply_renders_the_same_as_the_original() -> None:
    reply = Reply(
        text=Text(
            "guide/help",
            {
                "name": "Wang Fang",
                "role": Text("roles/supervisor"),
                "lines": [Text("guide/help_help", {"command": "help"})],
                "is_member": True,
            },
        )
    )
    renderer = Renderer()
    back = through_json(reply)
    assert back.text is not None and reply.text is not None
    assert renderer.render(back.text, "en") == renderer.render(reply.text, "en")
    assert renderer.render(back.text, "en") == (
        "Hello Wang Fang (supervisor)!\nHere is what you can do:\n• /help show this help"
    )
    clock = Reply(
        text=Text(
            "clock/now",
            {"now": dt.datetime(2026, 5, 11, 0, 30, tzinfo=dt.UTC), "zone": "Asia/Shanghai"},
        )
    )
    back_clock = through_json(clock)
    assert back_clock.text is not None
    assert renderer.render(back_clock.text, "zh") == (
        "现在是 2026年5月11日(周一) 08:30(Asia/Shanghai)。"
    )
