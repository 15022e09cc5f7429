"""Rendering per target: user text is escaped so it can never inject markup or mentions."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from kernel import Text
from messages import Renderer, Safe, Target, escape_for

HOSTILE = '<script>alert(1)</script> <@U123> <!channel> <!here> @channel @here &amp; <a href="http://x">x</a>'
MASS_MENTION = re.compile(r"@(channel|here|everyone|all)\b", re.IGNORECASE)


def write(root: Path, locale: str, name: str, source: str) -> None:
    path = root / locale / f"{name}.j2"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")


@pytest.fixture
def renderer(tmp_path: Path) -> Renderer:
    """A renderer over a template root made for the test, both locales present."""
    for locale in ("zh", "en"):
        write(tmp_path, locale, "echo", "{{ value }}")
        write(tmp_path, locale, "bold", "{{ value | bold }}")
        write(tmp_path, locale, "italic", "{{ value | italic }}")
        write(tmp_path, locale, "code", "{{ value | code }}")
        write(tmp_path, locale, "inner", "({{ value }})")
        write(tmp_path, locale, "outer", "[{{ inner }}]")
        write(tmp_path, locale, "items", "{% for item in items %}{{ item }};{% endfor %}")
        write(tmp_path, locale, "day", "{{ day | date }}")
        write(tmp_path, locale, "moment", "{{ moment | datetime(zone) }}")
        write(tmp_path, locale, "number", "{{ value | number }}")
    write(tmp_path, "zh", "greeting", "你好")
    write(tmp_path, "en", "greeting", "Hello")
    write(tmp_path, "en", "only_en", "English only {{ value }}")
    write(tmp_path, "zh", "only_zh", "只有中文 {{ value }}")
    return Renderer(root=tmp_path)


def echo(renderer: Renderer, value: object, target: Target, locale: str = "en") -> str:
    return renderer.render(Text("echo", {"value": value}), locale, target)


# --- escaping user text -------------------------------------------------------------------------


def test_telegram_escapes_html(renderer: Renderer) -> None:
    assert echo(renderer, HOSTILE, Target.TELEGRAM) == (
        "&lt;script&gt;alert(1)&lt;/script&gt; &lt;@U123&gt; &lt;!channel&gt; &lt;!here&gt; "
        '@\u2060channel @\u2060here &amp;amp; &lt;a href="http://x"&gt;x&lt;/a&gt;'
    )


def test_slack_escapes_control_characters_of_mrkdwn(renderer: Renderer) -> None:
    rendered = echo(renderer, HOSTILE, Target.SLACK)
    assert rendered == (
        "&lt;script&gt;alert(1)&lt;/script&gt; &lt;@U123&gt; &lt;!channel&gt; &lt;!here&gt; "
        '@\u2060channel @\u2060here &amp;amp; &lt;a href="http://x"&gt;x&lt;/a&gt;'
    )
    # Nothing Slack reads as a mention, a link or a special command survives.
    assert "<" not in rendered
    assert ">" not in rendered


def test_plain_keeps_text_but_breaks_mass_mentions(renderer: Renderer) -> None:
    assert echo(renderer, HOSTILE, Target.PLAIN) == (
        "<script>alert(1)</script> <@U123> <!channel> <!here> @\u2060channel @\u2060here &amp; "
        '<a href="http://x">x</a>'
    )


@pytest.mark.parametrize("target", list(Target))
@pytest.mark.parametrize(
    "text", ["@channel", "@here", "@everyone", "@all", "@Channel!", "hi @HERE.", "@all@here"]
)
def test_mass_mentions_are_broken_on_every_target(
    renderer: Renderer, target: Target, text: str
) -> None:
    rendered = echo(renderer, text, target)
    assert MASS_MENTION.search(rendered) is None
    # The word stays readable: only an invisible joiner is added.
    assert rendered.replace("\u2060", "").casefold() == text.casefold()


@pytest.mark.parametrize("target", list(Target))
def test_ordinary_at_signs_are_left_alone(renderer: Renderer, target: Target) -> None:
    assert echo(renderer, "mail li@example.com or @alice, @channels", target) == (
        "mail li@example.com or @alice, @channels"
    )


@pytest.mark.parametrize("target", list(Target))
def test_control_characters_are_dropped(renderer: Renderer, target: Target) -> None:
    assert echo(renderer, "a\x00b\x07c\x1b[31md\x7fe\tf\ng\x0bh\x0ci", target) == (
        "abc[31mde\tf\nghi"
    )


@pytest.mark.parametrize("target", list(Target))
def test_chinese_text_is_untouched(renderer: Renderer, target: Target) -> None:
    assert echo(renderer, "网点环境整洁,微笑服务", target) == "网点环境整洁,微笑服务"


def test_non_string_values_are_escaped_too(renderer: Renderer) -> None:
    class Sneaky:
        def __str__(self) -> str:
            return "<b>@channel</b>"

    assert echo(renderer, Sneaky(), Target.TELEGRAM) == "&lt;b&gt;@\u2060channel&lt;/b&gt;"
    assert echo(renderer, 42, Target.TELEGRAM) == "42"


def test_safe_values_are_printed_as_they_are(renderer: Renderer) -> None:
    assert echo(renderer, Safe("<b>kept</b>"), Target.TELEGRAM) == "<b>kept</b>"
    assert escape_for(Target.SLACK, Safe("<!here>")) == "<!here>"


# --- formatting filters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (Target.TELEGRAM, "<b>&lt;i&gt;Eve&lt;/i&gt; &amp; @\u2060here</b>"),
        (Target.SLACK, "*&lt;i&gt;Eve&lt;/i&gt; &amp; @\u2060here*"),
        (Target.PLAIN, "<i>Eve</i> & @\u2060here"),
    ],
)
def test_bold_wraps_per_target_and_escapes_its_input(
    renderer: Renderer, target: Target, expected: str
) -> None:
    assert renderer.render(Text("bold", {"value": "<i>Eve</i> & @here"}), "en", target) == expected


@pytest.mark.parametrize(
    ("name", "target", "expected"),
    [
        ("italic", Target.TELEGRAM, "<i>a&lt;b</i>"),
        ("italic", Target.SLACK, "_a&lt;b_"),
        ("italic", Target.PLAIN, "a<b"),
        ("code", Target.TELEGRAM, "<code>a&lt;b</code>"),
        ("code", Target.SLACK, "`a&lt;b`"),
        ("code", Target.PLAIN, "a<b"),
    ],
)
def test_italic_and_code(renderer: Renderer, name: str, target: Target, expected: str) -> None:
    assert renderer.render(Text(name, {"value": "a<b"}), "en", target) == expected


# --- nested texts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (Target.TELEGRAM, "[(a &amp; &lt;b&gt;)]"),
        (Target.SLACK, "[(a &amp; &lt;b&gt;)]"),
        (Target.PLAIN, "[(a & <b>)]"),
    ],
)
def test_nested_text_is_rendered_once_not_escaped_twice(
    renderer: Renderer, target: Target, expected: str
) -> None:
    text = Text("outer", {"inner": Text("inner", {"value": "a & <b>"})})
    assert renderer.render(text, "en", target) == expected


def test_lists_of_texts_are_rendered(renderer: Renderer) -> None:
    items = [Text("greeting"), Text("inner", {"value": "<x>"}), "raw <y>"]
    assert renderer.render(Text("items", {"items": items}), "zh", Target.TELEGRAM) == (
        "你好;(&lt;x&gt;);raw &lt;y&gt;;"
    )
    assert renderer.render(Text("items", {"items": tuple(items)}), "en", Target.PLAIN) == (
        "Hello;(<x>);raw <y>;"
    )


def test_real_help_template_escapes_the_name_and_renders_nested_lines() -> None:
    text = Text(
        "guide/help",
        {
            "name": "<i>Eve</i> @channel",
            "role": Text("roles/staff"),
            "lines": [
                Text("guide/help_help", {"command": "help"}),
                Text("language/help_lang", {"command": "lang"}),
            ],
            "is_member": True,
        },
    )
    renderer = Renderer()
    assert renderer.render(text, "en", Target.TELEGRAM) == (
        "Hello <b>&lt;i&gt;Eve&lt;/i&gt; @\u2060channel</b> (staff)!\n"
        "Here is what you can do:\n"
        "• /help show this help\n"
        "• /lang choose your language (中文 / English)"
    )
    assert renderer.render(text, "zh", Target.SLACK) == (
        "*&lt;i&gt;Eve&lt;/i&gt; @\u2060channel*(员工),你好!\n"
        "你可以使用这些命令:\n"
        "• /help 查看帮助\n"
        "• /lang 切换语言(中文 / English)"
    )


def test_user_text_in_a_real_template_cannot_inject() -> None:
    text = Text("language/unknown", {"given": "<!channel> fr"})
    assert Renderer().render(text, "en", Target.SLACK) == (
        'I do not know the language "&lt;!channel&gt; fr". Choose zh (中文) or en (English).'
    )


# --- locales and fallback ---------------------------------------------------------------------


def test_each_locale_has_its_own_text(renderer: Renderer) -> None:
    assert renderer.render(Text("greeting"), "zh") == "你好"
    assert renderer.render(Text("greeting"), "en") == "Hello"


def test_unknown_locale_falls_back_to_the_default(renderer: Renderer) -> None:
    assert renderer.render(Text("greeting"), "fr") == "你好"


def test_template_missing_in_one_locale_falls_back_to_the_other(renderer: Renderer) -> None:
    assert renderer.render(Text("only_en", {"value": "<x>"}), "zh", Target.TELEGRAM) == (
        "English only &lt;x&gt;"
    )
    assert renderer.render(Text("only_zh", {"value": "&"}), "en", Target.SLACK) == "只有中文 &amp;"
    assert renderer.has("only_en", "zh")
    assert renderer.has("only_zh", "en")


def test_unknown_template_raises_lookup_error(renderer: Renderer) -> None:
    with pytest.raises(LookupError, match="nowhere/at_all"):
        renderer.render(Text("nowhere/at_all"), "en")
    assert not renderer.has("nowhere/at_all", "zh")
    assert not Renderer().has("nowhere/at_all", "en")
    assert Renderer().has("errors/not_allowed", "en")


def test_has_looks_in_the_renderers_own_root(renderer: Renderer) -> None:
    assert renderer.has("greeting", "en")
    assert not renderer.has("errors/not_allowed", "en")  # only in the shipped templates


def test_missing_data_is_an_error_not_a_blank(renderer: Renderer) -> None:
    with pytest.raises(UndefinedError):
        renderer.render(Text("echo"), "en")


# --- dates and numbers ------------------------------------------------------------------------


def test_date_filter_per_locale(renderer: Renderer) -> None:
    day = dt.date(2026, 5, 11)
    assert renderer.render(Text("day", {"day": day}), "zh") == "2026年5月11日(周一)"
    assert renderer.render(Text("day", {"day": day}), "en") == "Mon 11 May 2026"


@pytest.mark.parametrize(
    ("zone", "zh", "en"),
    [
        ("Asia/Shanghai", "2026年5月11日(周一) 08:30", "Mon 11 May 2026 08:30"),
        ("America/New_York", "2026年5月10日(周日) 20:30", "Sun 10 May 2026 20:30"),
        ("UTC", "2026年5月11日(周一) 00:30", "Mon 11 May 2026 00:30"),
    ],
)
def test_datetime_filter_in_the_given_zone(renderer: Renderer, zone: str, zh: str, en: str) -> None:
    moment = dt.datetime(2026, 5, 11, 0, 30, tzinfo=dt.UTC)
    data = {"moment": moment, "zone": zone}
    assert renderer.render(Text("moment", data), "zh") == zh
    assert renderer.render(Text("moment", data), "en") == en


def test_real_clock_template_in_both_languages() -> None:
    data = {"now": dt.datetime(2026, 5, 10, 20, 0, tzinfo=dt.UTC), "zone": "Asia/Shanghai"}
    renderer = Renderer()
    assert renderer.render(Text("clock/now", data), "en") == (
        "It is now Mon 11 May 2026 04:00 (Asia/Shanghai)."
    )
    assert renderer.render(Text("clock/now", data), "zh") == (
        "现在是 2026年5月11日(周一) 04:00(Asia/Shanghai)。"
    )


@pytest.mark.parametrize(
    ("value", "expected"), [(1200, "1,200"), (1200.0, "1,200"), (92.46, "92.5"), (-3, "-3")]
)
def test_number_filter(renderer: Renderer, value: float, expected: str) -> None:
    assert renderer.render(Text("number", {"value": value}), "en") == expected
