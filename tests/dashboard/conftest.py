from tests.telephony.conftest import vox  # noqa: F401  (the fake VoxImplant, for the call columns' tests)
