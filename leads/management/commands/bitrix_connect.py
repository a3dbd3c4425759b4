from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from leads.bitrix import BitrixError, auth_install, oauth_token


class Command(BaseCommand):
    help = ("Store the Bitrix24 application's tokens: from an authorization code (valid 30 s) or a "
            "refresh token. Usually the install handler does this; use the command when it cannot.")

    def add_arguments(self, parser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--code", help="the code Bitrix24 sent to the redirect URI")
        group.add_argument("--refresh-token", help="a refresh token of the application")

    def handle(self, *args, code: str | None, refresh_token: str | None, **options) -> None:
        if not settings.BITRIX_PORTAL_URL:
            raise CommandError("Set BITRIX_PORTAL_URL, BITRIX_CLIENT_ID and BITRIX_CLIENT_SECRET first.")
        params = ({"grant_type": "authorization_code", "code": code} if code
                  else {"grant_type": "refresh_token", "refresh_token": refresh_token})
        try:
            token = oauth_token(params)
            auth = auth_install(member_id=str(token.get("member_id") or ""), access_token=token["access_token"],
                                refresh_token=token["refresh_token"], expires_in=int(token.get("expires_in") or 3600))
        except BitrixError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Connected to {auth.domain} (member id {auth.member_id}).")
