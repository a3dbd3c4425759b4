"""Timeline entries and manual-handling reasons as codes with parameters, in the reader's language."""

from __future__ import annotations

import pytest
from django.utils import translation
from django.utils.translation import ngettext

from leads.models import Lead, LeadEvent
from leads.services import lead_event_add, lead_to_manual
from leads.texts import REGISTRY, message_render, text, text_parse, text_render
from tests.factories import LeadFactory


def test_every_registered_message_is_read_back_from_its_english_sentence():
    params = {"user": "maria", "outcome": "order placed", "comment": "paid", "fields": "name", "domain": "a.example",
              "ref": "r-1", "code": "x", "reason": "busy", "at": "2026-12-04 10:00", "n": 3, "error": "E",
              "label": "busy", "detail": "486", "next": 2, "max": 3, "digit": "1", "id": 7, "chat": "Sales"}
    skipped = {"call_result", "call_result_detail"}
    for code in set(REGISTRY) - skipped:
        with translation.override("en"):
            sentence = text_render(code, params)
        parsed = text_parse(sentence)
        assert parsed is not None, code
        with translation.override("en"):
            assert text_render(*parsed) == sentence, code


@pytest.mark.parametrize(("n", "russian"), [(1, "1 звонка"), (3, "3 звонков"), (21, "21 звонка"), (23, "23 звонков")])
def test_a_reason_written_the_old_way_is_stored_as_a_code_and_read_in_russian_with_its_plural(db, n, russian):
    lead = LeadFactory()
    reason = f"Not reached after {n} calls (last: no answer)."
    lead_to_manual(lead=lead, reason=reason, alert=False)

    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.manual_code, lead.manual_params) == ("not_reached", {"n": n, "label": "no answer"})
    assert lead.manual_reason == reason  # the English sentence stays, for search and old readers
    with translation.override("ru"):
        assert lead.manual_reason_text == f"Не дозвонились после {russian} (последний: нет ответа)."
        assert lead.events.get(kind=LeadEvent.Kind.MANUAL).text == lead.manual_reason_text


def test_an_unknown_sentence_is_kept_and_shown_as_it_was(db):
    event = lead_event_add(lead=LeadFactory(), kind=LeadEvent.Kind.NOTE, message="something only a person wrote")

    assert (event.code, event.params) == ("", {})
    with translation.override("ru"):
        assert LeadEvent.objects.get(pk=event.pk).text == "something only a person wrote"


def test_wrappers_of_the_step_engine_translate_the_sentence_they_hold():
    with translation.override("ru"):
        rendered = message_render("The call failed: 486 Busy (gave up after 5 tries)")

    assert rendered == "Звонок не удался: 486 Busy (попытки прекращены после 5)"


def test_a_text_is_stored_with_its_code_and_an_english_sentence(db):
    with translation.override("ru"):  # whoever writes it, the stored sentence is English
        event = lead_event_add(lead=LeadFactory(), kind=LeadEvent.Kind.NOTE, message=text("taken", user="maria"))

    assert (event.code, event.params, event.message) == ("taken", {"user": "maria"}, "taken by maria")


def test_lead_counts_use_russian_plural_forms():
    with translation.override("ru"):
        said = [ngettext("%(n)d lead: %(label)s.", "%(n)d leads: %(label)s.", n) % {"n": n, "label": "x"}
                for n in (1, 2, 5, 21, 23)]

    assert said == ["1 лид: x.", "2 лида: x.", "5 лидов: x.", "21 лид: x.", "23 лида: x."]


def test_a_call_result_written_the_old_way_reads_in_plain_russian(db):
    event = LeadEvent.objects.create(lead=LeadFactory(), kind=LeadEvent.Kind.CALL_RESULT, step="call",
                                     message="answered by a person: amd:HUMAN")

    with translation.override("ru"):
        assert LeadEvent.objects.get(pk=event.pk).text == "ответил человек"
    with translation.override("en"):
        assert LeadEvent.objects.get(pk=event.pk).text == "answered by a person"
