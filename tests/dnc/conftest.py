from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token


@pytest.fixture
def token_of():
    """`Authorization: Token ...` for a user, as test-client keyword arguments."""
    def make(user) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=user).key}"}
    return make
