"""What every call says first, and the keys a person may press: the call-back key and the opt-out key.

The disclosure names who calls, says that the call is automated and which key stops further calls
(a per-site recording, or text spoken with the site's voice). The scenario plays it before the site's
message and listens for both keys from then on (telephony/voxengine/leadcaller.js).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from leads.models import Site

CALLBACK_DIGIT = "1"  # "press 1 for a call back now", offered by the default message
KEYS = frozenset("0123456789*#")  # what a phone's keypad sends as DTMF tones


def disclosure_settings(site: Site) -> dict[str, str]:
    """The disclosure and opt-out part of the scenario's settings answer."""
    name = site.name or site.domain or "Leadcaller"
    return {
        "disclosure_url": site.disclosure_url,
        "disclosure_text": site.disclosure_text or _(
            "This is an automated call from %(site)s. If you do not want us to call you again, "
            "press %(key)s.") % {"site": name, "key": site.opt_out_digit},
        "opt_out_digit": site.opt_out_digit,
        "opt_out_text": _("You will not be called again. Goodbye."),
    }
