from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from telephony import setup, voximplant


class Command(BaseCommand):
    help = ("Create or update the VoxImplant application, the scenario (telephony/voxengine/leadcaller.js as it is "
            "in this checkout) and a rule that runs only it; check the caller IDs; print the environment lines "
            "to set. A second run changes nothing. --check only reports, and exits 1 when anything differs.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--application", default=setup.DEFAULT_NAME,
                            help="short application name, [a-z][a-z0-9-]; VoxImplant adds .<account>.voximplant.com")
        parser.add_argument("--scenario", default=setup.DEFAULT_NAME, help="scenario name (under 30 characters)")
        parser.add_argument("--rule", default=setup.DEFAULT_NAME, help="routing rule name")
        parser.add_argument("--rule-pattern", default=setup.DEFAULT_RULE_PATTERN,
                            help="the rule's pattern for incoming calls (default: matches no phone number)")
        parser.add_argument("--caller-id", default="", help="the number calls come from (default: VOXIMPLANT_CALLER_ID)")
        parser.add_argument("--check", action="store_true", help="report differences, change nothing")

    def handle(self, *args, check: bool, **options) -> None:
        try:
            client = voximplant.client_from_settings()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        if client is None:
            raise CommandError("Set VOXIMPLANT_CREDENTIALS (a service account key file), or VOXIMPLANT_ACCOUNT_ID "
                               "and VOXIMPLANT_API_KEY.")
        target = setup.target_from_settings(application=options["application"], scenario=options["scenario"],
                                            rule=options["rule"], rule_pattern=options["rule_pattern"],
                                            caller_id=options["caller_id"])
        try:
            report = setup.voximplant_setup(client=client, target=target, apply=not check)
        except voximplant.VoximplantError as exc:
            hint = " Check the credentials and the service account's role." if exc.code in (100, 104) else ""
            raise CommandError(f"VoxImplant refused: {exc}.{hint}") from exc
        self._print(report, client.credentials.account_id, check)

    def _print(self, report: setup.SetupReport, account_id: str, check: bool) -> None:
        self.stdout.write(f"VoxImplant account {account_id}:")
        for finding in report.findings:
            line = f"  {finding.subject}: {finding.state}" + (f" ({finding.detail})" if finding.detail else "")
            style = self.style.ERROR if finding.state in setup.PROBLEMS else self.style.SUCCESS
            self.stdout.write(style(line) if finding.state != setup.OK else line)
        if not report.changed and not report.problems:
            self.stdout.write("Nothing to change: VoxImplant matches this checkout.")
        elif not report.changed and not check:
            self.stdout.write("Nothing was changed in VoxImplant.")
        if report.env:
            self.stdout.write("Set these in the environment:")
            for name, value in report.env.items():
                self.stdout.write(f"{name}={value}")
        failed = [f for f in report.problems if check or f.state != setup.DIFFERS]
        if failed:
            raise CommandError(f"{len(failed)} difference(s) or problem(s): " + "; ".join(
                f"{f.subject}: {f.state}" + (f" ({f.detail})" if f.detail else "") for f in failed))
