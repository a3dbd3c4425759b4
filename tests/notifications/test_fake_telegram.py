"""Self-tests of the Telegram fake: it must answer like the real Bot API, or tests built on it lie.

No Django and no database here: only the fake and `requests`. Time-based rules (rate limits, the edit window)
move the fake's clock with `advance()`; one test waits for real to show `retry_after` is honest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from demo.fakes.telegram import NOT_MODIFIED, FakeTelegram, parse_html, render

TIMEOUT = 2.0
PRIVATE, GROUP, SUPERGROUP = 501234567, -4001234567, -1001234567890
KEYBOARD = {"inline_keyboard": [[{"text": "Open lead", "url": "https://crm.example/leads/42"}],
                                [{"text": "Call", "url": "tg://resolve?domain=seller"},
                                 {"text": "Site", "url": "http://shop.example/"}]]}


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(timeout_delay=0.5) as fake:
        fake.add_chat(PRIVATE, "private", title="Seller", username="seller")
        fake.add_chat(GROUP, "group", title="Sales")
        fake.add_chat(SUPERGROUP, "supergroup", title="Partners")
        yield fake


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # never route 127.0.0.1 through an environment proxy
        yield session


def call(http: requests.Session, tg: FakeTelegram, method: str, *, token: str | None = None,
         timeout: float = TIMEOUT, **params: Any) -> requests.Response:
    """POST a JSON body, as our client does."""
    return http.post(f"{tg.url}/bot{token or tg.token}/{method}", json=params, timeout=timeout)


def send(http: requests.Session, tg: FakeTelegram, chat_id: int | str, text: str, **params: Any) -> requests.Response:
    return call(http, tg, "sendMessage", chat_id=chat_id, text=text, **params)


def error(response: requests.Response) -> tuple[int, str]:
    """The refusal's status and description, after checking the envelope is Telegram's."""
    body = response.json()
    assert body["ok"] is False
    assert body["error_code"] == response.status_code
    return response.status_code, body["description"]


def u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --- sending and storing --------------------------------------------------------------------------------

def test_send_message_answers_like_telegram_and_is_stored(tg: FakeTelegram, http: requests.Session) -> None:
    answer = send(http, tg, PRIVATE, "<b>New lead</b> from Shop", parse_mode="HTML", disable_notification=True,
                  link_preview_options={"is_disabled": True})
    assert answer.status_code == 200
    body = answer.json()
    assert body["ok"] is True
    message = body["result"]
    assert message["message_id"] == 1
    assert message["chat"] == {"id": PRIVATE, "first_name": "Seller", "username": "seller", "type": "private"}
    assert message["from"]["is_bot"] is True
    assert abs(message["date"] - time.time()) < 5
    assert message["text"] == "New lead from Shop"
    assert message["entities"] == [{"type": "bold", "offset": 0, "length": 8}]
    assert message["link_preview_options"] == {"is_disabled": True}

    assert send(http, tg, PRIVATE, "second").json()["result"]["message_id"] == 2
    other = send(http, tg, SUPERGROUP, "elsewhere").json()["result"]
    assert other["message_id"] == 1  # ids count per chat
    assert other["chat"] == {"id": SUPERGROUP, "title": "Partners", "type": "supergroup"}
    assert "entities" not in other

    first, second = tg.messages(PRIVATE)
    assert (first.message_id, first.text, first.plain, first.parse_mode) == (
        1, "<b>New lead</b> from Shop", "New lead from Shop", "HTML")
    assert first.disable_notification is True and first.edits == [] and first.reply_markup is None
    assert (second.message_id, second.plain, second.parse_mode) == (2, "second", None)


def test_form_and_query_encodings_string_ids_usernames_and_any_method_case(tg: FakeTelegram,
                                                                           http: requests.Session) -> None:
    form = http.post(f"{tg.url}/bot{tg.token}/SENDMESSAGE", timeout=TIMEOUT, data={
        "chat_id": str(SUPERGROUP), "text": "<i>form</i>", "parse_mode": "html", "reply_markup": json.dumps(KEYBOARD)})
    assert form.status_code == 200, form.text
    query = http.get(f"{tg.url}/bot{tg.token}/sendmessage", params={"chat_id": "@Seller", "text": "query"},
                     timeout=TIMEOUT)
    assert query.status_code == 200, query.text
    assert query.json()["result"]["chat"]["id"] == PRIVATE
    assert tg.messages(SUPERGROUP)[0].reply_markup == KEYBOARD
    assert [(r.http_method, r.method, r.status) for r in tg.requests] == [
        ("POST", "sendMessage", 200), ("GET", "sendMessage", 200)]
    assert call(http, tg, "getMe").json()["result"]["is_bot"] is True
    assert error(call(http, tg, "sendPhoto", chat_id=PRIVATE)) == (404, "Not Found")


# --- HTML parse mode ------------------------------------------------------------------------------------

def test_html_entities_are_decoded_and_offsets_are_utf16(tg: FakeTelegram, http: requests.Session) -> None:
    text = ('😀 <b>Lead <i>#42</i></b> &lt;Ivan &amp; Co&gt; &quot;VIP&quot; &#8470;7 &#x41; '
            '<a href="https://crm.example/l/42?a=1&amp;b=2">open</a>')
    message = send(http, tg, PRIVATE, text, parse_mode="HTML").json()["result"]
    plain = '😀 Lead #42 <Ivan & Co> "VIP" №7 A open'
    assert message["text"] == plain
    link = u16(plain[:plain.index("open")])
    assert link == plain.index("open") + 1  # the emoji is two UTF-16 units
    assert message["entities"] == [
        {"type": "bold", "offset": 3, "length": 8}, {"type": "italic", "offset": 8, "length": 3},
        {"type": "text_link", "offset": link, "length": 4, "url": "https://crm.example/l/42?a=1&b=2"}]


@pytest.mark.parametrize(("html", "plain", "entities"), [
    ('<pre><code class="language-python">x = 1</code></pre>', "x = 1",
     [{"type": "pre", "offset": 0, "length": 5, "language": "python"}]),
    ("<code>c</code> <pre>p</pre>", "c p",
     [{"type": "code", "offset": 0, "length": 1}, {"type": "pre", "offset": 2, "length": 1}]),
    ("<blockquote expandable>long</blockquote><blockquote>q</blockquote>", "longq",
     [{"type": "expandable_blockquote", "offset": 0, "length": 4}, {"type": "blockquote", "offset": 4, "length": 1}]),
    ('<tg-spoiler>a</tg-spoiler><span class="tg-spoiler">b</span><U>c</U><ins>d</ins><s>e</s><del>f</del>', "abcdef",
     [{"type": t, "offset": i, "length": 1} for i, t in enumerate(
         ["spoiler", "spoiler", "underline", "underline", "strikethrough", "strikethrough"])]),
    ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji> <tg-time unix="1647531900" format="t">22:45</tg-time>',
     "👍 22:45", [{"type": "custom_emoji", "offset": 0, "length": 2, "custom_emoji_id": "5368324170671202286"},
                 {"type": "date_time", "offset": 3, "length": 5, "unix_time": 1647531900, "date_time_format": "t"}]),
])
def test_supported_tags(html: str, plain: str, entities: list[dict[str, Any]]) -> None:
    assert parse_html(html) == (plain, entities)


def test_the_api_trims_whitespace_and_drops_empty_entities(tg: FakeTelegram, http: requests.Session) -> None:
    message = send(http, tg, PRIVATE, "  <b></b>\n<b>x</b> &gt; y\n ", parse_mode="HTML").json()["result"]
    assert message["text"] == "x > y"
    assert message["entities"] == [{"type": "bold", "offset": 0, "length": 1}]


@pytest.mark.parametrize(("html", "reason"), [
    ("Привет<br>мир", 'Unsupported start tag "br" at byte offset 12'),  # bytes of UTF-8, not characters
    ("<p>para</p>", 'Unsupported start tag "p" at byte offset 0'),
    ("<b>bold", "Can't find end tag corresponding to start tag b"),
    ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
    ("done</b>", "Unexpected end tag at byte offset 4"),
    ("price < 100", 'Unsupported start tag "" at byte offset 6'),
    ("1 <2 apples", 'Unsupported start tag "2" at byte offset 2'),
    ("tail <", "Unclosed start tag at byte offset 5"),
    ('<a href="https://x.example>open</a>', "Unclosed start tag at byte offset 0"),
    ('<span class="red">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ("a&nbsp;b", 'Unsupported HTML entity "&nbsp;" at byte offset 1'),
    ("AT&T", 'Unsupported HTML entity "&T" at byte offset 2'),
    ("fish & chips", 'Unescaped "&" at byte offset 5'),
    ('<a href="https://x.example/?a=1&b=2">x</a>', 'Unsupported HTML entity "&b" at byte offset 31'),
])
def test_markup_telegram_cannot_parse_is_refused(tg: FakeTelegram, http: requests.Session, html: str,
                                                 reason: str) -> None:
    answer = send(http, tg, PRIVATE, html, parse_mode="HTML")
    assert error(answer) == (400, f"Bad Request: can't parse entities: {reason}")
    assert tg.messages(PRIVATE) == []
    assert send(http, tg, PRIVATE, html).json()["result"]["text"] == html.strip()  # no parse_mode: sent as is


def test_lenient_entities_show_unknown_ones_literally_as_telegram_does(http: requests.Session) -> None:
    with FakeTelegram(strict_entities=False) as fake:
        fake.add_chat(PRIVATE)
        message = send(http, fake, PRIVATE, "AT&T &nbsp; &lt &amp;", parse_mode="HTML").json()["result"]
    assert message["text"] == "AT&T &nbsp; < &"


# --- length ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "parse_mode", "status", "description"), [
    ("&lt;" * 4096, "HTML", 200, None),  # 16384 characters sent, 4096 shown
    ("<b>" + "x" * 4096 + "</b>", "HTML", 200, None),  # markup does not count
    ("&lt;" * 4097, "HTML", 400, "Bad Request: message is too long"),
    ("x" * 4097, None, 400, "Bad Request: message is too long"),
    ("&lt;" * 4097, None, 400, "Bad Request: message is too long"),  # without parse_mode the entity is 4 chars
    ("", None, 400, "Bad Request: message text is empty"),
    (" \n ", None, 400, "Bad Request: message text is empty"),
    ("<b></b>", "HTML", 400, "Bad Request: message text is empty"),
])
def test_length_is_counted_after_entity_parsing(tg: FakeTelegram, http: requests.Session, text: str,
                                                parse_mode: str | None, status: int, description: str | None) -> None:
    answer = send(http, tg, PRIVATE, text, **({"parse_mode": parse_mode} if parse_mode else {}))
    if status == 200:
        assert answer.status_code == 200
        assert len(answer.json()["result"]["text"]) == 4096
    else:
        assert error(answer) == (status, description)


def test_missing_text_and_unknown_parse_mode(tg: FakeTelegram, http: requests.Session) -> None:
    assert error(call(http, tg, "sendMessage", chat_id=PRIVATE)) == (400, "Bad Request: message text is empty")
    assert error(send(http, tg, PRIVATE, "x", parse_mode="BBCode")) == (400, "Bad Request: unsupported parse_mode")


# --- editing --------------------------------------------------------------------------------------------

def test_edit_message_text(tg: FakeTelegram, http: requests.Session) -> None:
    sent = send(http, tg, SUPERGROUP, "<b>Lead 42</b>: new", parse_mode="HTML", reply_markup=KEYBOARD).json()
    message_id = sent["result"]["message_id"]
    edited = call(http, tg, "editMessageText", chat_id=SUPERGROUP, message_id=message_id,
                  text="<b>Lead 42</b>: called", parse_mode="HTML", reply_markup=KEYBOARD)
    assert edited.status_code == 200
    result = edited.json()["result"]
    assert (result["message_id"], result["text"], result["reply_markup"]) == (message_id, "Lead 42: called", KEYBOARD)
    assert result["edit_date"] >= result["date"]

    # The same content written differently is still the same content.
    same = call(http, tg, "editMessageText", chat_id=SUPERGROUP, message_id=message_id,
                text="<strong>Lead 42</strong>: called", parse_mode="HTML", reply_markup=KEYBOARD)
    assert error(same) == (400, NOT_MODIFIED)
    # Without reply_markup the keyboard goes: that is a change.
    bare = call(http, tg, "editMessageText", chat_id=SUPERGROUP, message_id=message_id,
                text="<b>Lead 42</b>: called", parse_mode="HTML")
    assert bare.status_code == 200 and "reply_markup" not in bare.json()["result"]

    (stored,) = tg.messages(SUPERGROUP)
    assert (stored.text, stored.plain, stored.reply_markup) == ("<b>Lead 42</b>: called", "Lead 42: called", None)
    assert [(v.text, v.plain, v.reply_markup) for v in stored.edits] == [
        ("<b>Lead 42</b>: new", "Lead 42: new", KEYBOARD), ("<b>Lead 42</b>: called", "Lead 42: called", KEYBOARD)]
    assert stored.edit_date is not None

    missing = call(http, tg, "editMessageText", chat_id=SUPERGROUP, message_id=999, text="x")
    assert error(missing) == (400, "Bad Request: message to edit not found")
    tg.advance(48 * 3600 + 1)
    too_old = call(http, tg, "editMessageText", chat_id=SUPERGROUP, message_id=message_id, text="later")
    assert error(too_old) == (400, "Bad Request: message can't be edited")


def test_edit_window_is_configurable(http: requests.Session) -> None:
    with FakeTelegram(edit_window=60) as fake:
        fake.add_chat(PRIVATE)
        message_id = send(http, fake, PRIVATE, "v1").json()["result"]["message_id"]
        fake.advance(55)  # a few seconds of real time to spare: a loaded CI once took more than one
        assert call(http, fake, "editMessageText", chat_id=PRIVATE, message_id=message_id, text="v2").ok
        fake.advance(6)
        answer = call(http, fake, "editMessageText", chat_id=PRIVATE, message_id=message_id, text="v3")
        assert error(answer) == (400, "Bad Request: message can't be edited")


# --- keyboards, chats, tokens ---------------------------------------------------------------------------

def url_refused(url: str, reason: str) -> str:
    return f"Bad Request: inline keyboard button URL '{url}' is invalid: {reason}"


@pytest.mark.parametrize(("button", "description"), [
    ({"text": "x", "url": "http://localhost:8000/admin/"}, url_refused("http://localhost:8000/admin/", "Wrong HTTP URL")),
    ({"text": "x", "url": "http://web:8000/admin/"}, url_refused("http://web:8000/admin/", "Wrong HTTP URL")),
    ({"text": "x", "url": "tel:+79123456789"},
     url_refused("tel:+79123456789", "Wrong port number specified in the URL")),
    ({"text": "x", "url": "tel:112"}, url_refused("tel:112", "Wrong HTTP URL")),
    ({"text": "x", "url": "javascript:alert(1)"},
     url_refused("javascript:alert(1)", "Wrong port number specified in the URL")),
    ({"text": "x", "url": "ftp://files.example/"}, url_refused("ftp://files.example/", "Unsupported URL protocol")),
    ({"text": "x", "url": "https://"}, url_refused("https://", "URL host is empty")),
    ({"text": "x", "url": "https://shop example/"}, url_refused("https://shop example/", "Wrong URL host")),
    ({"text": "x", "url": "https://shop.example:0/"},
     url_refused("https://shop.example:0/", "Wrong port number specified in the URL")),
    ({"text": "x", "url": "tg://resolve:80?domain=seller"}, url_refused("tg://resolve:80?domain=seller", "Wrong tg URL")),
    ({"text": "x", "url": None}, 'Bad Request: can\'t parse inline keyboard button: Field "url" must be of type String'),
    ({"text": "x"}, "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline "
                    "keyboard"),
    ({"text": "x", "callback_data": "y" * 65}, "Bad Request: BUTTON_DATA_INVALID"),
])
def test_bad_inline_buttons_are_refused(tg: FakeTelegram, http: requests.Session, button: dict[str, str],
                                        description: str) -> None:
    answer = send(http, tg, PRIVATE, "card", reply_markup={"inline_keyboard": [[button]]})
    assert error(answer) == (400, description)
    assert tg.messages(PRIVATE) == []


@pytest.mark.parametrize(("url", "kept"), [
    ("crm.example/leads/42", "http://crm.example/leads/42"),  # no scheme reads as http
    ("HTTPS://Shop.Example", "https://shop.example/"),
    ("http://192.168.1.10:08000/admin/?q=a b", "http://192.168.1.10:8000/admin/?q=a%20b"),  # IPs pass the check
    ("http://[::1]:8000/", "http://[::1]:8000/"),
    ("tg://resolve?domain=seller", "tg://resolve?domain=seller"),
])
def test_button_urls_telegram_takes_are_kept_as_it_normalises_them(tg: FakeTelegram, http: requests.Session,
                                                                   url: str, kept: str) -> None:
    answer = send(http, tg, PRIVATE, "card", reply_markup={"inline_keyboard": [[{"text": "x", "url": url}]]})
    assert answer.json()["result"]["reply_markup"]["inline_keyboard"][0][0]["url"] == kept
    assert tg.requests[-1].params["reply_markup"]["inline_keyboard"][0][0]["url"] == url  # as sent


def test_a_link_telegram_cannot_check_is_dropped_and_its_text_kept(tg: FakeTelegram, http: requests.Session) -> None:
    text = ('<a href="tel:+79123456789">+79123456789</a> <a href="http://localhost:8000/a/">admin</a> '
            '<a href="https://Crm.Example">crm</a>')
    message = send(http, tg, PRIVATE, text, parse_mode="HTML").json()["result"]
    assert message["text"] == "+79123456789 admin crm"
    assert message["entities"] == [{"type": "text_link", "offset": 19, "length": 3, "url": "https://crm.example/"}]


def test_keyboard_is_returned_and_stored(tg: FakeTelegram, http: requests.Session) -> None:
    assert send(http, tg, PRIVATE, "card", reply_markup=KEYBOARD).json()["result"]["reply_markup"] == KEYBOARD
    assert tg.messages(PRIVATE)[0].reply_markup == KEYBOARD


def test_unknown_chat_and_token(tg: FakeTelegram, http: requests.Session) -> None:
    assert error(send(http, tg, 777, "hi")) == (400, "Bad Request: chat not found")
    assert error(send(http, tg, "@nobody", "hi")) == (400, "Bad Request: chat not found")
    assert error(call(http, tg, "sendMessage", text="hi")) == (400, "Bad Request: chat_id is empty")
    wrong = call(http, tg, "sendMessage", token="123:wrong", chat_id=PRIVATE, text="hi")
    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert tg.messages(PRIVATE) == []


def test_group_migrated_to_supergroup(tg: FakeTelegram, http: requests.Session) -> None:
    tg.migrate_chat(GROUP, -1009876543210)
    old = send(http, tg, GROUP, "hi")
    assert old.status_code == 400
    assert old.json() == {"ok": False, "error_code": 400,
                          "description": "Bad Request: group chat was upgraded to a supergroup chat",
                          "parameters": {"migrate_to_chat_id": -1009876543210}}
    new = send(http, tg, -1009876543210, "hi")
    assert new.status_code == 200
    assert new.json()["result"]["chat"] == {"id": -1009876543210, "title": "Sales", "type": "supergroup"}


def test_blocked_and_kicked(tg: FakeTelegram, http: requests.Session) -> None:
    tg.block_chat(PRIVATE)
    tg.block_chat(GROUP)
    tg.block_chat(SUPERGROUP, "Forbidden: bot is not a member of the supergroup chat")
    assert error(send(http, tg, PRIVATE, "hi")) == (403, "Forbidden: bot was blocked by the user")
    assert error(send(http, tg, GROUP, "hi")) == (403, "Forbidden: bot was kicked from the group chat")
    assert error(send(http, tg, SUPERGROUP, "hi")) == (403, "Forbidden: bot is not a member of the supergroup chat")
    tg.unblock_chat(PRIVATE)
    assert send(http, tg, PRIVATE, "back").status_code == 200


# --- rate limits ----------------------------------------------------------------------------------------

def test_per_chat_limit_allows_a_short_burst_then_429(tg: FakeTelegram, http: requests.Session) -> None:
    assert [send(http, tg, PRIVATE, f"m{i}").status_code for i in range(3)] == [200, 200, 200]
    refused = send(http, tg, PRIVATE, "m3")
    assert refused.status_code == 429
    assert refused.json() == {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                              "parameters": {"retry_after": 1}}
    assert send(http, tg, SUPERGROUP, "other chat").status_code == 200
    assert tg.too_many_requests == 1
    tg.advance(1)
    assert send(http, tg, PRIVATE, "m3").status_code == 200
    assert send(http, tg, PRIVATE, "m4").status_code == 429  # one per second once the burst is spent
    assert [m.plain for m in tg.messages(PRIVATE)] == ["m0", "m1", "m2", "m3"]
    assert tg.too_many_requests == 2


def test_retry_after_is_honest_in_real_time(http: requests.Session) -> None:
    with FakeTelegram(chat_burst=1) as fake:
        fake.add_chat(PRIVATE)
        assert send(http, fake, PRIVATE, "a").ok
        retry_after = send(http, fake, PRIVATE, "b").json()["parameters"]["retry_after"]
        assert retry_after == 1
        time.sleep(retry_after)
        assert send(http, fake, PRIVATE, "b").ok


def test_edits_count_toward_the_per_chat_limit(tg: FakeTelegram, http: requests.Session) -> None:
    message_id = send(http, tg, PRIVATE, "v0").json()["result"]["message_id"]
    for version in ("v1", "v2"):
        assert call(http, tg, "editMessageText", chat_id=PRIVATE, message_id=message_id, text=version).ok
    refused = call(http, tg, "editMessageText", chat_id=PRIVATE, message_id=message_id, text="v3")
    assert refused.status_code == 429 and refused.json()["parameters"]["retry_after"] == 1
    assert tg.messages(PRIVATE)[0].plain == "v2"


def test_groups_get_20_messages_a_minute(http: requests.Session) -> None:
    with FakeTelegram(chat_burst=100) as fake:
        fake.add_chat(GROUP, "group")
        fake.add_chat(PRIVATE)
        assert all(send(http, fake, GROUP, f"g{i}").ok for i in range(20))
        refused = send(http, fake, GROUP, "g20")
        assert refused.status_code == 429
        assert 55 <= refused.json()["parameters"]["retry_after"] <= 60
        fake.advance(1)  # a new second for the global limit
        assert all(send(http, fake, PRIVATE, f"p{i}").ok for i in range(25))  # private chats: no minute limit
        fake.advance(60)
        assert send(http, fake, GROUP, "g20").ok


def test_global_limit_30_per_second(http: requests.Session) -> None:
    with FakeTelegram(global_per_second=30) as fake:
        for chat_id in range(1, 32):
            fake.add_chat(chat_id)
        assert all(send(http, fake, chat_id, "hi").ok for chat_id in range(1, 31))
        refused = send(http, fake, 31, "hi")
        assert refused.status_code == 429 and refused.json()["parameters"]["retry_after"] == 1
        fake.advance(1)
        assert send(http, fake, 31, "hi").ok
        assert fake.too_many_requests == 1


def test_rate_limit_can_be_switched_off(http: requests.Session) -> None:
    with FakeTelegram(rate_limit=False) as fake:
        fake.add_chat(GROUP, "group")
        assert all(send(http, fake, GROUP, f"g{i}").ok for i in range(40))
        assert fake.too_many_requests == 0


# --- scripted faults ------------------------------------------------------------------------------------

def test_scripted_429_carries_retry_after_and_is_not_counted_as_provoked(tg: FakeTelegram,
                                                                          http: requests.Session) -> None:
    tg.fail_next("sendMessage", "http429", retry_after=7)
    answer = send(http, tg, PRIVATE, "hi")
    assert answer.json() == {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7",
                             "parameters": {"retry_after": 7}}
    assert send(http, tg, PRIVATE, "hi").ok
    assert tg.too_many_requests == 0
    assert [(r.fault, r.status) for r in tg.requests] == [("http429", 429), (None, 200)]


def test_scripted_5xx_is_an_html_page(tg: FakeTelegram, http: requests.Session) -> None:
    tg.fail_next("*", "http5xx")
    answer = send(http, tg, PRIVATE, "hi")
    assert answer.status_code == 502
    assert answer.headers["Content-Type"].startswith("text/html") and "Bad Gateway" in answer.text
    assert tg.messages(PRIVATE) == []


def test_timeout_delivers_the_message_anyway(tg: FakeTelegram, http: requests.Session) -> None:
    tg.fail_next("sendMessage", "timeout")
    with pytest.raises(requests.exceptions.ReadTimeout):
        send(http, tg, PRIVATE, "late answer", timeout=0.2)
    assert tg.wait_for(lambda: tg.messages(PRIVATE))[0].plain == "late answer"
    tg.fail_next("sendMessage", "timeout")
    started = time.monotonic()
    assert send(http, tg, PRIVATE, "patient client").ok  # waiting long enough gets the normal answer
    assert time.monotonic() - started >= 0.5


def test_drop_closes_the_connection_before_anything_happens(tg: FakeTelegram, http: requests.Session) -> None:
    tg.fail_next("sendMessage", "drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        send(http, tg, PRIVATE, "hi")
    assert tg.messages(PRIVATE) == []
    assert tg.requests[0].status is None and tg.requests[0].fault == "drop"


@pytest.mark.parametrize(("kind", "status", "description"), [
    ("chat_not_found", 400, "Bad Request: chat not found"),
    ("blocked", 403, "Forbidden: bot was blocked by the user"),
    ("unauthorized", 401, "Unauthorized"),
])
def test_scripted_refusals(tg: FakeTelegram, http: requests.Session, kind: str, status: int,
                           description: str) -> None:
    tg.fail_next("editMessageText", kind)
    tg.fail_next("SendMessage", kind, times=2)  # method names are case-insensitive here too
    assert [error(send(http, tg, PRIVATE, "hi")) for _ in range(2)] == [(status, description)] * 2
    assert send(http, tg, PRIVATE, "hi").ok
    assert error(call(http, tg, "editMessageText", chat_id=PRIVATE, message_id=1, text="x")) == (status, description)


def test_faults_are_consumed_in_order_and_star_means_any_method(tg: FakeTelegram, http: requests.Session) -> None:
    tg.fail_next("sendMessage", "http5xx")
    tg.fail_next("sendMessage", "chat_not_found")
    tg.fail_next("*", "unauthorized")
    assert send(http, tg, PRIVATE, "1").status_code == 502
    assert send(http, tg, PRIVATE, "2").status_code == 400
    assert send(http, tg, PRIVATE, "3").status_code == 401  # the method's own queue is empty: "*" applies
    assert call(http, tg, "getMe").ok
    with pytest.raises(ValueError, match="unknown fault"):
        tg.fail_next("sendMessage", "explode")


# --- inspection, latency, demo output -------------------------------------------------------------------

def test_reset_wait_for_and_latency(http: requests.Session) -> None:
    with FakeTelegram(latency=0.2) as fake:
        fake.add_chat(PRIVATE)
        started = time.monotonic()
        assert send(http, fake, PRIVATE, "slow").ok
        assert time.monotonic() - started >= 0.2
        assert fake.wait_for(lambda: fake.requests)[0].params == {"chat_id": PRIVATE, "text": "slow"}
        with pytest.raises(TimeoutError):
            fake.wait_for(lambda: fake.too_many_requests, timeout=0.05)
        fake.fail_next("*", "blocked")
        fake.reset()
        assert (fake.requests, fake.messages(PRIVATE), fake.too_many_requests) == ([], [], 0)
        assert send(http, fake, PRIVATE, "again").json()["result"]["message_id"] == 1  # chat kept, fault gone


def test_echo_prints_what_the_chat_shows(http: requests.Session, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeTelegram(echo=True) as fake:
        fake.add_chat(SUPERGROUP, "supergroup")
        send(http, fake, SUPERGROUP, "<b>Lead 42</b> &amp; co", parse_mode="HTML", reply_markup=KEYBOARD)
    out = capsys.readouterr().out
    assert "message 1" in out and "Lead 42 & co" in out and "<b>" not in out
    assert "[Open lead -> https://crm.example/leads/42]" in out
    assert render(fake.messages(SUPERGROUP)[0]).splitlines()[2] == (
        "  [Call -> tg://resolve?domain=seller]  [Site -> http://shop.example/]")
