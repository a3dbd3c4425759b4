from django.core.management.base import BaseCommand, CommandError

from leads import bitrix
from leads.bitrix import BitrixError
from leads.partners import partners_sync


class Command(BaseCommand):
    help = "Fetch the partner list from Bitrix24 now (it is also synced periodically by beat)."

    def handle(self, *args, **options) -> None:
        client = bitrix.client_from_settings()
        if client is None:
            raise CommandError("Bitrix24 is not configured (BITRIX_WEBHOOK_URL or BITRIX_PORTAL_URL).")
        try:
            counts = partners_sync(client)
        except BitrixError as exc:
            raise CommandError(f"The partner list could not be read: {exc}") from exc
        self.stdout.write(", ".join(f"{key}: {value}" for key, value in counts.items()))
