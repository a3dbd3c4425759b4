"""The API docs' examples work as they are ("Try it out" answers 201), and the schema has no dangling reference."""

from __future__ import annotations

import json
import re

import pytest

from leads.models import Lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api) -> dict:
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_the_intakes_example_from_the_schema_is_accepted_with_201(api, schema, site):
    body = schema["paths"]["/api/v1/leads/"]["post"]["requestBody"]["content"]
    examples = body["application/json"]["examples"]

    assert examples
    for number, example in enumerate(examples.values()):
        value = {**example["value"], "phone": example["value"]["phone"][:-1] + str(number)}
        response = api.post("/api/v1/leads/", value, format="json", HTTP_ORIGIN="https://shop.example")
        assert response.status_code == 201, response.content
    assert Lead.objects.filter(site=site).count() == len(examples)


def test_the_intakes_form_encoded_example_is_accepted_too(api, schema, site):
    [example] = schema["paths"]["/api/v1/leads/"]["post"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"]["examples"].values()
    response = api.post("/api/v1/leads/", example["value"], HTTP_ORIGIN="https://shop.example")

    assert response.status_code == 201, response.content
    lead = Lead.objects.get()
    assert lead.name == example["value"]["name"] and hasattr(lead, "consent_proof")


def test_every_reference_in_the_schema_resolves(schema):
    refs = set(re.findall(r'"\$ref": "([^"]+)"', json.dumps(schema)))

    assert refs
    for ref in refs:
        node = schema
        assert ref.startswith("#/"), ref
        for part in ref[2:].split("/"):
            assert part in node, f"{ref} does not resolve"
            node = node[part]


def test_the_intakes_200_answer_documents_both_shapes(schema):
    answer = schema["paths"]["/api/v1/leads/"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    component = schema["components"]["schemas"][answer["$ref"].split("/")[-1]]

    assert {item["$ref"].split("/")[-1] for item in component["oneOf"]} == {"LeadAccepted", "EnvelopeResult"}
