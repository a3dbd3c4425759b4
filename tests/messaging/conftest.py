from tests.telephony.conftest import short_timeouts, vox  # noqa: F401 - shared with the call tests
