"""The `kapclinic` command. Errors are one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import os
import secrets
import sys
import time
from pathlib import Path

from kapclinic import config
from kapclinic.clinical.instruments import cli as instruments_cli
from kapclinic.clinical.pk import cli as pk_cli
from kapclinic.clinical.protocols import cli as protocols_cli
from kapclinic.clinical.screening import cli as screening_cli

USAGE_ERROR = 2


class CommandError(Exception):
    """A problem the person at the terminal can fix; printed as one line."""


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kapclinic.settings")
    import django

    django.setup()


# ---- serve ---------------------------------------------------------------------------------

def cmd_serve(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    call_command("check", tags=["instruments"])  # a broken clinic definition stops here
    call_command("migrate", interactive=False, verbosity=0)
    if args.dev:
        call_command("runserver", f"{args.host}:{args.port}")
        return 0
    call_command("collectstatic", interactive=False, verbosity=0)
    print(f"kapclinic is serving on http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    os.execv(gunicorn, [  # noqa: S606 (our own venv's gunicorn, fixed arguments)
        gunicorn, "kapclinic.wsgi:application", "--bind", f"{args.host}:{args.port}",
        "--workers", str(args.workers), "--threads", "4", "--access-logfile", "-",
        # link tokens, set-password links and search terms never reach the log
        "--logger-class", "kapclinic.platform.access_log.RedactingLogger",
        "--graceful-timeout", "5",
    ])
    return 0  # not reached


# ---- demo ----------------------------------------------------------------------------------

def cmd_demo(args: argparse.Namespace) -> int:
    from django.core.management import call_command
    from rich.progress import Progress

    from kapclinic import demo
    from kapclinic.audit import context

    if args.patients < 1 or args.patients > 1_000_000:
        raise CommandError("--patients must be between 1 and 1000000")
    password = args.password or secrets.token_urlsafe(9)
    if len(password) < 10:
        raise CommandError("--password must be at least 10 characters")
    call_command("migrate", interactive=False, verbosity=0)
    if args.if_empty and demo.holds_real_data():
        print("kapclinic demo skipped: this database holds a real clinic, so no demo data "
              "is loaded into it.")
        return 0
    context.set_system_actor("kapclinic demo")
    started = time.monotonic()
    total = args.patients + max(1, args.patients // 4)
    with Progress(disable=total < 2000 or not sys.stdout.isatty()) as progress:
        task = progress.add_task("Creating demo patients", total=total)
        try:
            result = demo.load_demo(patients=args.patients, seed=args.seed, password=password,
                                    weeks=args.weeks,
                                    progress=lambda n: progress.advance(task, n))
        except demo.DemoRefused as exc:
            raise CommandError(f"kapclinic demo refused: {exc}") from exc
    if not result.created:
        print("The demo clinic is already loaded; its logins are unchanged: "
              + ", ".join(result.usernames))
        return 0
    print(f"Demo clinics loaded with {result.patients} synthetic patients in "
          f"{time.monotonic() - started:.0f} s.")
    print("Logins (one per role; the second clinic's end in 2): " + ", ".join(result.usernames))
    print(f"Password for every demo login: {password}")
    if not args.password:
        print("(This password is shown once. To give someone a new one, log in as admin and "
              "send a set-password link from the Users page.)")
    return 0


# ---- users and tokens ---------------------------------------------------------------------

def cmd_createuser(args: argparse.Namespace) -> int:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from kapclinic.accounts import staff
    from kapclinic.accounts.models import Clinic, User
    from kapclinic.accounts.roles import Role
    from kapclinic.audit import context

    if args.role not in Role.values:
        raise CommandError(f"unknown role {args.role!r}; choose one of {', '.join(Role.values)}")
    if args.role == Role.PATIENT:
        raise CommandError("createuser makes staff logins; a patient's portal login belongs to "
                           "their record")
    clinic = Clinic.objects.filter(slug=args.clinic).first()
    if clinic is None:
        known = ", ".join(Clinic.objects.values_list("slug", flat=True)) or "none yet"
        raise CommandError(f"no clinic {args.clinic!r}; known clinics: {known}")
    context.set_system_actor("kapclinic createuser", clinic.pk)
    password_hash = None
    if not User.objects.filter(username=args.username).exists():
        password = args.password or (getpass.getpass("Password: ") if sys.stdin.isatty() else "")
        if not password:
            raise CommandError("give --password (or run in a terminal to be asked)")
        try:
            validate_password(password)
        except ValidationError as exc:
            raise CommandError("password: " + " ".join(exc.messages)) from exc
        password_hash = make_password(password)
    try:
        membership = staff.grant_role(clinic=clinic, username=args.username, role=args.role,
                                      password_hash=password_hash,
                                      first_name=args.first_name or "",
                                      last_name=args.last_name or "", by=None)
    except staff.StaffError as exc:
        raise CommandError(str(exc)) from exc
    print(f"{membership.user.username} is now {Role(args.role).label} at {clinic.name}.")
    return 0


def cmd_createclinic(args: argparse.Namespace) -> int:
    from django.core.exceptions import ValidationError

    from kapclinic.accounts import staff
    from kapclinic.audit import context

    context.set_system_actor("kapclinic createclinic")
    try:
        clinic = staff.create_clinic(slug=args.slug, name=args.name, time_zone=args.time_zone,
                                     by=None)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise CommandError(f"{field}: {' '.join(messages)}") from exc
    print(f"Clinic {clinic.slug!r} created ({clinic.time_zone}).")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from kapclinic.accounts.models import User
    from kapclinic.accounts.tokens import issue_token
    from kapclinic.audit import context

    user = User.objects.filter(username=args.user).first()
    if user is None:
        raise CommandError(f"no user {args.user!r}")
    context.set_system_actor("kapclinic token create")
    try:
        token, secret = issue_token(user=user, name=args.name, scope=args.scope, days=args.days)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    print(secret)
    print(f"(API token for {user.username}, scope {token.scope}, expires "
          f"{token.expires_at:%Y-%m-%d}. It is shown only now: store it safely.)", file=sys.stderr)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from kapclinic.accounts.models import ApiToken, User

    tokens = ApiToken.objects.select_related("user").order_by("id")
    if args.user:
        user = User.objects.filter(username=args.user).first()
        if user is None:
            raise CommandError(f"no user {args.user!r}")
        tokens = tokens.filter(user=user)
    now = timezone.now()

    def day(moment) -> str:
        return f"{moment:%Y-%m-%d %H:%M}" if moment else "never"

    rows = [("ID", "USER", "NAME", "SCOPE", "CREATED", "LAST USED", "EXPIRES", "STATE")]
    for token in tokens:
        state = ("revoked " + f"{token.revoked_at:%Y-%m-%d}" if token.revoked_at
                 else "expired" if token.expires_at <= now else "active")
        rows.append((str(token.pk), token.user.username, token.name, token.scope,
                     day(token.created_at), day(token.last_used_at),
                     f"{token.expires_at:%Y-%m-%d}", state))
    if len(rows) == 1:
        print("No API tokens" + (f" for {args.user}." if args.user else "."))
        return 0
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from kapclinic.accounts.models import ApiToken
    from kapclinic.accounts.tokens import revoke_token
    from kapclinic.audit import context

    token = ApiToken.objects.select_related("user").filter(pk=args.id).first()
    if token is None:
        raise CommandError(f"no API token {args.id} (kapclinic token list shows them)")
    context.set_system_actor("kapclinic token revoke")
    if not revoke_token(token):
        raise CommandError(f"token {token.pk} ({token.name!r} of {token.user.username}) was "
                           f"already revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC")
    print(f"Token {token.pk} ({token.name!r} of {token.user.username}) is revoked: requests "
          "with it are refused from now on.")
    return 0


# ---- check and audit -----------------------------------------------------------------------

def cmd_check(args: argparse.Namespace) -> int:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    try:
        call_command("check", databases=["default"])
    except SystemCheckError as exc:
        print(str(exc).strip(), file=sys.stderr)
        return USAGE_ERROR
    return 0


def _read_anchors(path: Path, key: bytes) -> list:
    from kapclinic.audit import anchors

    try:
        return anchors.read(path, key)
    except anchors.AnchorError as exc:
        raise CommandError(str(exc)) from exc


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from kapclinic.audit import anchors, keys, trail

    key = keys.audit_key()
    anchored: list[anchors.Anchor] = []
    if args.anchors:
        if key is None:
            raise CommandError(f"anchors are signed with the audit key: {keys.HOW}")
        anchored = _read_anchors(Path(args.anchors), key)
    # The anchor kapclinic wrote itself at the first keyed entry (trail._anchor_first_keyed).
    automatic = keys.anchors_file()
    if key is not None and automatic.is_file() and (
            not args.anchors or Path(args.anchors).resolve() != automatic.resolve()):
        anchored += _read_anchors(automatic, key)
    started = time.perf_counter()
    result = trail.verify(frozenset(a.count for a in anchored), anchors.keyed_after(anchored))
    seconds = time.perf_counter() - started
    if result.needs_key:
        raise CommandError(f"the audit trail's {result.problem}: {keys.HOW}")
    if not result.ok:
        print(f"AUDIT TRAIL BROKEN at entry #{result.first_bad_seq}: {result.problem} "
              f"({result.checked} entries before it are intact)", file=sys.stderr)
        return 1
    found = anchors.problems(anchored, result.checked, result.hashes)
    if found:
        print(f"AUDIT TRAIL BROKEN: {found[0]}"
              + (f" (and {len(found) - 1} more anchor problems)" if len(found) > 1 else ""),
              file=sys.stderr)
        return 1
    if args.expect_head and args.expect_head != result.head_hash:
        print(f"AUDIT TRAIL BROKEN: the newest entry's hash is {result.head_hash}, not the "
              f"expected {args.expect_head}: entries were removed from the end", file=sys.stderr)
        return 1
    if (key is not None and result.checked and not result.head_keyed
            and not anchors.pins(anchored, result.checked)):
        print(f"AUDIT TRAIL BROKEN: the newest entry #{result.checked} is not keyed although "
              "the audit key is set: the keyed entries were rewritten or removed by someone "
              "without the key, unless nothing has been written since the key was set (then "
              "verify again after the next action in kapclinic)", file=sys.stderr)
        return 1
    print(f"Audit trail intact: {result.checked} entries verified in {seconds:.2f} s; "
          f"head hash {result.head_hash}"
          + (f"; agrees with {len(anchored)} anchors" if anchored else ""))
    if key is not None and result.checked and result.keyed_from != 1:
        unkeyed = (result.keyed_from or result.checked + 1) - 1
        if anchors.pins(anchored, unkeyed + 1) or (result.keyed_from is None
                                                   and anchors.pins(anchored, unkeyed)):
            print(f"Entries #1-#{unkeyed} are unkeyed (written before the audit key was set, "
                  "as a signed anchor shows).")
        else:
            print(f"Warning: entries #1-#{unkeyed} are unkeyed and nothing shows they were "
                  "written before the audit key was set rather than rewritten without it: no "
                  f"signed anchor covers entry #{unkeyed + 1} ({automatic} is missing or "
                  "older). Check them against anchors kept elsewhere (--anchors FILE).",
                  file=sys.stderr)
    return 0


def cmd_audit_anchor(args: argparse.Namespace) -> int:
    import json

    from kapclinic.audit import anchors, keys, trail
    from kapclinic.audit.models import AuditEntry

    key = keys.audit_key()
    if key is None:
        raise CommandError(f"anchors are signed with the audit key: {keys.HOW}")
    result = trail.verify()
    if not result.ok:
        print(f"NOT ANCHORED: the audit trail is broken at entry #{result.first_bad_seq}: "
              f"{result.problem}", file=sys.stderr)
        return 1
    head_keyed = bool(AuditEntry.objects.filter(seq=result.checked)
                      .values_list("keyed", flat=True).first())
    record = anchors.make(key, count=result.checked, head_hash=result.head_hash,
                          keyed=head_keyed)
    if not args.out:
        print(json.dumps(record))
        return 0
    try:
        anchors.append(Path(args.out), record)
    except OSError as exc:
        raise CommandError(f"cannot append to {args.out}: {exc.strerror or exc}") from exc
    print(f"Anchored the audit trail at entry #{result.checked} in {args.out}; keep that file "
          "away from the database (another machine, write-once storage).", file=sys.stderr)
    return 0


def cmd_mfa_reset(args: argparse.Namespace) -> int:
    from kapclinic.accounts import mfa
    from kapclinic.accounts.models import User
    from kapclinic.audit import context

    user = User.objects.filter(username=args.username).first()
    if user is None:
        raise CommandError(f"no user {args.username!r}")
    context.set_system_actor("kapclinic mfa reset")
    if not mfa.reset(user, by=None):
        raise CommandError(f"{args.username} has no authenticator to remove")
    print(f"{args.username}'s authenticator was removed; they set up a new one at their next "
          "login if their clinic requires two-factor login.")
    return 0


def cmd_password_link(args: argparse.Namespace) -> int:
    from kapclinic.accounts import staff
    from kapclinic.accounts.models import User
    from kapclinic.audit import context

    user = User.objects.filter(username=args.username).first()
    if user is None:
        raise CommandError(f"no user {args.username!r}")
    context.set_system_actor("kapclinic password-link")
    base_url = args.base_url or config.base_url()
    link = staff.operator_password_link(user=user, base_url=base_url, by=None)
    print(f"Give {args.username} this single-use link to set a password (it works for "
          f"{staff.link_days()} days):\n{link}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Every app's registered steps (platform.extensions.WorkerStep): sending due
    questionnaires, reminders, escalating alerts, sending the outbox, recomputing outcomes, for
    each clinic on its own (one clinic's failure is logged and never stops another's), then the
    global steps (forgetting expired idempotency keys)."""
    from django.utils import timezone

    from kapclinic.accounts.models import Clinic
    from kapclinic.audit import context
    from kapclinic.platform import extensions

    if args.base_url:
        # the questionnaire step builds each link on it (it reads KAPCLINIC_BASE_URL)
        os.environ["KAPCLINIC_BASE_URL"] = args.base_url
    context.set_system_actor("kapclinic worker")
    while True:
        clinics = list(Clinic.objects.order_by("pk").values_list("pk", flat=True))
        report = extensions.run_worker_steps(clinics, timezone.now())
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {report}", flush=True)
        if args.once:
            return 0
        time.sleep(args.interval)


def clinic_named(slug: str):
    """The clinic of ``--clinic``, or a one-line error naming the option."""
    from kapclinic.accounts.models import Clinic

    clinic = Clinic.objects.filter(slug=slug).first()
    if clinic is None:
        raise CommandError(f"--clinic: no clinic {slug!r}")
    return clinic


def cmd_fhir_bulk_export(args: argparse.Namespace) -> int:
    """A clinic's FHIR Bulk Data export into a folder, with a progress bar on a terminal."""
    from kapclinic.audit import context
    from kapclinic.interop import bulk
    from kapclinic.interop.fhir.search import SearchError, date_range

    clinic = clinic_named(args.clinic)
    try:
        types = bulk.check_types(args.type)
        since = date_range("since", args.since)[1] if args.since else None
    except bulk.ExportError as exc:
        raise CommandError(f"--{exc.field}: {exc}") from None
    except SearchError as exc:
        raise CommandError(f"--since: {exc}") from None
    if args.out.exists() and not args.out.is_dir():
        raise CommandError(f"--out: {args.out} is a file, not a folder")
    context.set_system_actor("kapclinic fhir bulk-export", clinic.pk)
    export = bulk.Export(clinic, types, since)
    if sys.stderr.isatty():
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("Exporting", total=None)

            def advance(resource: str, n: int) -> None:
                bar.update(task, advance=n, description=f"Exporting {resource}")

            manifest = bulk.write(export, args.out, progress=advance)
    else:
        manifest = bulk.write(export, args.out)
    total = sum(entry["count"] for entry in manifest["output"])
    print(f"{total:,} resources of {len(manifest['output'])} types written to {args.out} "
          f"(manifest.json lists them)", file=sys.stderr)
    return 0


def cmd_fhir_import(args: argparse.Namespace) -> int:
    """All or nothing: each refusal printed with the element it is about, exit 2."""
    from kapclinic.audit import context
    from kapclinic.interop.fhir import importing

    clinic = clinic_named(args.clinic)
    try:
        if args.file.stat().st_size > importing.MAX_FILE_BYTES:
            raise CommandError(f"{args.file}: larger than {importing.MAX_FILE_BYTES // 2**20} MiB: split it "
                               f"into files of at most {importing.MAX_ENTRIES} resources")
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{args.file}: cannot be read ({type(exc).__name__})") from None
    context.set_system_actor("kapclinic fhir import", clinic.pk)
    try:
        done = importing.import_resources(importing.read_file(text), clinic=clinic, by=None,
                                          source=f"file {args.file.name}")
    except importing.Refusal as refusal:
        for expression, message in refusal.issues[:100]:
            print(f"kapclinic: {expression}: {message}", file=sys.stderr)
        print(f"kapclinic: nothing was imported from {args.file}", file=sys.stderr)
        return USAGE_ERROR
    created = sum(1 for *_, new in done.outcomes if new)
    print(f"{len(done.outcomes)} records from {args.file}: {created} created, "
          f"{len(done.outcomes) - created} already here", file=sys.stderr)
    return 0


def cmd_research_export(args: argparse.Namespace) -> int:
    from kapclinic.audit import context
    from kapclinic.interop import research

    clinic = clinic_named(args.clinic)
    if args.out.suffix not in (".parquet", ".csv"):
        raise CommandError(f"--out: {args.out.name} must end in .parquet or .csv")
    if not args.out.parent.is_dir():
        raise CommandError(f"--out: the folder {args.out.parent} does not exist")
    context.set_system_actor("kapclinic research export", clinic.pk)
    report = research.export(clinic, args.out)
    print(f"{report.rows:,} rows of {report.patients:,} patients written to {args.out}; ages in "
          f"{report.age_band_years}-year bands, dates to the {report.dates_to}; {report.suppressed_rows:,} "
          f"rows left out; smallest group {report.smallest_group} (k = {report.k}). The data dictionary "
          f"and the report are beside it.", file=sys.stderr)
    return 0


def cmd_fhir_run_export(args: argparse.Namespace) -> int:
    from kapclinic.audit import context
    from kapclinic.interop import jobs
    from kapclinic.interop.models import BulkExport

    export = BulkExport.objects.filter(pk=args.export_id).first()
    if export is None:
        raise CommandError(f"no bulk export {args.export_id}")
    context.set_system_actor(f"bulk export {export.pk} for user {export.requested_by_id}", export.clinic_id)
    if not jobs.run(export.pk):
        print(f"Bulk export {export.pk} is not waiting ({export.state}): nothing to do", file=sys.stderr)
    return 0


def cmd_sessions_visit_codes(args: argparse.Namespace) -> int:
    """The visit codes CSV of a clinic's period (as the page makes it), audited as the command."""
    from datetime import date

    from kapclinic.accounts.models import Clinic
    from kapclinic.audit import context
    from kapclinic.treatment import visit_codes

    clinic = Clinic.objects.filter(slug=args.clinic).first()
    if clinic is None:
        raise CommandError(f"no clinic {args.clinic!r}")
    days = {}
    for flag, text in (("from", args.date_from), ("to", args.date_to)):
        try:
            days[flag] = date.fromisoformat(text)
        except ValueError:
            raise CommandError(f"--{flag}: {text!r} is not a date (YYYY-MM-DD)") from None
    try:
        visit_codes.check_period(days["from"], days["to"])
    except visit_codes.PeriodError as exc:
        raise CommandError(f"--{exc.field}: {exc.message}") from None
    context.set_system_actor("kapclinic sessions visit-codes", clinic.pk)
    visit_codes.audit_export(clinic, days["from"], days["to"])
    lines = visit_codes.csv_lines(clinic, days["from"], days["to"])
    if args.out is None:
        sys.stdout.writelines(lines)
        return 0
    with open(args.out, "w", encoding="utf-8", newline="") as out:
        out.writelines(lines)
    print(f"Visit codes of {days['from']} to {days['to']} written to {args.out}", file=sys.stderr)
    return 0


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    """Every controlled-substance balance against the replay of its ledger lines: exit 1
    naming each lot and location that differs (the first one first), 0 when all agree."""
    from kapclinic.inventory import stock

    problems = stock.mismatches()
    if problems:
        for problem in problems:
            print(f"kapclinic ledger verify: {problem}", file=sys.stderr)
        return 1
    print("Every balance equals the sum of its ledger lines.")
    return 0


def cmd_ledger_report(args: argparse.Namespace) -> int:
    """A clinic's controlled-substance record of a period on standard output, streamed (as the
    page makes it), audited as the command: the report, then each patient named in it."""
    from datetime import date

    from kapclinic.accounts.models import Clinic
    from kapclinic.audit import context
    from kapclinic.inventory import reports

    clinic = Clinic.objects.filter(slug=args.clinic).first()
    if clinic is None:
        raise CommandError(f"--clinic: no clinic {args.clinic!r} (a clinic's slug, as given to "
                           "kapclinic createclinic)")
    days = {}
    for flag, text in (("from", args.date_from), ("to", args.date_to)):
        try:
            days[flag] = date.fromisoformat(text)
        except ValueError:
            raise CommandError(f"--{flag}: {text!r} is not a date (YYYY-MM-DD)") from None
    try:
        period = reports.Period(clinic, days["from"], days["to"])
    except reports.PeriodError as exc:
        raise CommandError(f"--{exc.field}: {exc.message}") from None
    context.set_system_actor("kapclinic ledger report", clinic.pk)
    report = reports.build(args.kind, period)
    reads = reports.Reads(report, args.format)
    reads.start()
    lines = reports.csv_lines(report, reads) if args.format == "csv" else reports.text_lines(report, reads)
    for chunk in lines:
        sys.stdout.write(chunk)
    sys.stdout.flush()
    return 0


# Django commands that would change people or health records without an audit entry (or wipe
# them), each with the audited way to do what it does.
REFUSED_MANAGE_COMMANDS = {
    "flush": "it would delete every record and the audit trail; health information is never "
             "deleted (to start over, point KAPCLINIC_DATA_DIR or the database URL elsewhere)",
    "sqlflush": "it prints SQL that deletes every record and the audit trail",
    "changepassword": "it changes a password without an audit entry; use: kapclinic "
                      "password-link USERNAME (an audited single-use link), or an admin sends one "
                      "from the Users page",
    "createsuperuser": "it makes an account outside the clinics' roles and without an audit "
                       "entry; use: kapclinic createuser --username U --role admin --clinic SLUG",
    "loaddata": "it writes rows straight into the tables (accounts, roles, health records) "
                "without an audit entry; use the app, the API, kapclinic createuser or "
                "kapclinic demo",
}
# `migrate APP zero` drops the app's tables, and with them its health records and trail.
MIGRATE_ZERO = ("unapplying every migration of an app drops its tables and the health "
                "information in them; health information is never deleted")


def cmd_manage(args: argparse.Namespace) -> int:
    from django.core.management import execute_from_command_line

    command = args.rest[0] if args.rest else ""
    why = REFUSED_MANAGE_COMMANDS.get(command)
    if command == "migrate" and "zero" in args.rest[1:]:
        why = MIGRATE_ZERO
    if why:
        raise CommandError(f"'kapclinic manage {command}' is refused: {why}")
    execute_from_command_line(["kapclinic manage", *args.rest])
    return 0


# ---- the parser ----------------------------------------------------------------------------

def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def cmd_monitor_listen(args: argparse.Namespace) -> int:
    """The MLLP listener for bedside monitors, until Ctrl-C (or SIGTERM)."""
    from kapclinic.accounts.models import Clinic
    from kapclinic.treatment.monitors import listener, workers

    clinic = Clinic.objects.filter(slug=args.clinic).first()
    if clinic is None:
        raise CommandError(f"--clinic: no clinic {args.clinic!r} (a clinic's slug)")
    try:
        allowed = listener.networks(args.allow or [])
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if args.host not in ("127.0.0.1", "::1", "localhost") and not allowed:
        raise CommandError("--allow: listening beyond this machine needs the monitors' addresses "
                           "(e.g. --allow 10.20.0.0/24)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    listener.warm_up()
    if any(not name.strip() for name in args.mrn_authority or []):
        raise CommandError("--mrn-authority: a name is empty (an unset variable?); give the assigning "
                           "authority as PID-3.4 sends it, e.g. --mrn-authority 'Harbor Ketamine'")
    authorities = frozenset(name.strip().casefold() for name in args.mrn_authority or [])
    try:
        with contextlib.suppress(KeyboardInterrupt):
            workers.run(lambda: listener.Listener(clinic, allowed=allowed, authorities=authorities,
                                                  writing=workers.turns() if args.workers > 1 else None),
                        args.host, args.port,
                        workers=args.workers,
                        ready=lambda port: print(f"Listening for monitors of {clinic.name} on "
                                                 f"{args.host}:{port}" + (
                                                     "; an MRN is taken when PID-3 names no issuer or "
                                                     "one of: " + ", ".join(args.mrn_authority)
                                                     if authorities else ""), flush=True))
    except OSError as exc:
        raise CommandError(f"--port {args.port}: {exc.strerror or exc}") from None
    except workers.WorkersFailed as exc:
        raise CommandError(str(exc)) from None
    return 0


def cmd_monitor_simulate(args: argparse.Namespace) -> int:
    """A simulated monitor sending PCD-01 vitals for one patient."""
    import asyncio

    from kapclinic.treatment.monitors import simulate

    def report(n: int, code: str) -> None:
        if not args.quiet:
            print(f"message {n}: {code}", flush=True)

    try:
        counted = asyncio.run(simulate.run(args.host, args.port, mrn=args.mrn, count=args.count,
                                           every=args.every, device=args.device, seed=args.seed,
                                           report=report))
    except OSError as exc:
        raise CommandError(f"could not reach {args.host}:{args.port}: {exc.strerror or exc}") from None
    print("ACKs: " + ", ".join(f"{code} {n}" for code, n in sorted(counted.items())))
    return 0 if set(counted) <= {"AA"} else 1


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be 1 or more")
    return value


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        self.exit(USAGE_ERROR, f"{self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="kapclinic", description="Run a ketamine-assisted psychotherapy clinic.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    serve = sub.add_parser("serve", help="serve the web app (gunicorn; --dev for autoreload)")
    serve.add_argument("--port", type=positive_int, default=8000)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--workers", type=positive_int, default=2)
    serve.add_argument("--dev", action="store_true", help="Django's autoreloading server")
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="load the synthetic demo clinics")
    demo.add_argument("--patients", type=positive_int, default=40)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--weeks", type=positive_int, default=12,
                      help="weeks of weekly PHQ-9 and GAD-7 for each treated patient")
    demo.add_argument("--password")
    demo.add_argument("--if-empty", action="store_true",
                      help="skip (exit 0) when the database holds a real clinic, instead of "
                           "refusing (make run uses this)")
    demo.set_defaults(func=cmd_demo)

    user = sub.add_parser("createuser", help="add a user to a clinic with a role")
    user.add_argument("--username", required=True)
    user.add_argument("--role", required=True)
    user.add_argument("--clinic", required=True, help="the clinic's slug")
    user.add_argument("--password")
    user.add_argument("--first-name")
    user.add_argument("--last-name")
    user.set_defaults(func=cmd_createuser)

    clinic = sub.add_parser("createclinic", help="add a clinic (site)")
    clinic.add_argument("--slug", required=True)
    clinic.add_argument("--name", required=True)
    clinic.add_argument("--time-zone", default=config.default_time_zone())
    clinic.set_defaults(func=cmd_createclinic)

    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True, parser_class=Parser)
    create = token_sub.add_parser("create", help="create a token and print it once")
    create.add_argument("--user", required=True)
    create.add_argument("--scope", default="read", choices=["read", "write"])
    create.add_argument("--days", type=positive_int)
    create.add_argument("--name", default="cli")
    create.set_defaults(func=cmd_token_create)
    listing_tokens = token_sub.add_parser("list", help="list tokens (never their secrets)")
    listing_tokens.add_argument("--user", help="only this user's tokens")
    listing_tokens.set_defaults(func=cmd_token_list)
    revoke = token_sub.add_parser("revoke", help="revoke a token: refused from now on")
    revoke.add_argument("id", type=positive_int, help="the token's id (see token list)")
    revoke.set_defaults(func=cmd_token_revoke)

    check = sub.add_parser("check", help="report configuration problems")
    check.set_defaults(func=cmd_check)

    audit = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, parser_class=Parser)
    verify = audit_sub.add_parser("verify", help="verify the hash chain")
    verify.add_argument("--expect-head", help="the head hash noted earlier, to detect truncation")
    verify.add_argument("--anchors", help="a file of anchors (kapclinic audit anchor --out) to "
                                          "check the trail against")
    verify.set_defaults(func=cmd_audit_verify)
    anchor = audit_sub.add_parser("anchor", help="sign the chain's head with the audit key and "
                                                 "print it, or append it to a file")
    anchor.add_argument("--out", help="append the anchor to this file (JSON lines)")
    anchor.set_defaults(func=cmd_audit_anchor)

    two_factor = sub.add_parser("mfa", help="two-factor login: reset a lost authenticator")
    two_factor_sub = two_factor.add_subparsers(dest="mfa_command", required=True)
    reset = two_factor_sub.add_parser("reset", help="remove a user's authenticator (lost phone)")
    reset.add_argument("username")
    reset.set_defaults(func=cmd_mfa_reset)

    link = sub.add_parser("password-link", help="print a single-use link for a user to set a new "
                                                "password (audited)")
    link.add_argument("username")
    link.add_argument("--base-url", help="the address the link opens on "
                                         "(default KAPCLINIC_BASE_URL or http://127.0.0.1:8000)")
    link.set_defaults(func=cmd_password_link)

    work = sub.add_parser("worker", help="each clinic's background work: send due questionnaires "
                                            "and reminders, escalate alerts, send the outbox, "
                                            "recompute outcomes after a rule change")
    work.add_argument("--once", action="store_true", help="one pass, then exit")
    work.add_argument("--interval", type=positive_int, default=60, help="seconds between passes")
    work.add_argument("--base-url", help="the address patients open links on "
                                         "(default KAPCLINIC_BASE_URL or http://127.0.0.1:8000)")
    work.set_defaults(func=cmd_worker)

    manage = sub.add_parser("manage", help="run a Django management command")
    manage.add_argument("rest", nargs=argparse.REMAINDER)
    manage.set_defaults(func=cmd_manage)

    sessions = sub.add_parser("sessions", help="dosing sessions")
    sessions_sub = sessions.add_subparsers(dest="sessions_command", required=True, parser_class=Parser)
    codes = sessions_sub.add_parser("visit-codes", help="the visit codes CSV of a period (for billing)")
    codes.add_argument("--clinic", required=True, help="the clinic's slug")
    codes.add_argument("--from", dest="date_from", required=True, help="first day, YYYY-MM-DD")
    codes.add_argument("--to", dest="date_to", required=True, help="last day, YYYY-MM-DD")
    codes.add_argument("--out", type=Path, help="write the CSV here (default: standard output)")
    codes.set_defaults(func=cmd_sessions_visit_codes)

    ledger = sub.add_parser("ledger", help="the controlled-substance ledger")
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True, parser_class=Parser)
    ledger_verify = ledger_sub.add_parser("verify", help="check that every balance equals the "
                                                         "sum of its ledger lines")
    ledger_verify.set_defaults(func=cmd_ledger_verify)
    ledger_report = ledger_sub.add_parser("report", help="a period's controlled-substance record "
                                                         "(for the DEA) on standard output")
    ledger_report.add_argument("--clinic", required=True, help="the clinic's slug")
    ledger_report.add_argument("--from", dest="date_from", required=True, help="first day, YYYY-MM-DD")
    ledger_report.add_argument("--to", dest="date_to", required=True, help="last day, YYYY-MM-DD")
    ledger_report.add_argument("--kind", default="dispensing", choices=("dispensing", "inventory",
                                                                        "destruction", "loss",
                                                                        "reconciliation"),
                               help="dispensing (the default): every movement with each lot's "
                                    "balances; inventory: stock at the end of the period; "
                                    "destruction: destroyed and returned; loss: thefts and "
                                    "losses; reconciliation: doses against draws")
    ledger_report.add_argument("--format", default="text", choices=("text", "csv"))
    ledger_report.set_defaults(func=cmd_ledger_report)

    fhir = sub.add_parser("fhir", help="FHIR R4: bulk export of a clinic")
    fhir_sub = fhir.add_subparsers(dest="fhir_command", required=True, parser_class=Parser)
    bulk = fhir_sub.add_parser("bulk-export", help="a clinic's records as FHIR NDJSON files and a manifest")
    bulk.add_argument("--clinic", required=True, help="the clinic's slug")
    bulk.add_argument("--out", required=True, type=Path, help="the folder to write (made if missing)")
    bulk.add_argument("--since", default="", help="only what changed at or after this time "
                                                   "(2026-11-30 or 2026-11-30T09:00:00Z)")
    bulk.add_argument("--type", default="", help="only these resource types, comma-separated "
                                                 "(default: all)")
    bulk.set_defaults(func=cmd_fhir_bulk_export)
    fhir_import = fhir_sub.add_parser("import", help="import a transaction Bundle or NDJSON file of "
                                                     "Patient, Condition and QuestionnaireResponse")
    fhir_import.add_argument("file", type=Path, help="a Bundle (.json) or NDJSON file")
    fhir_import.add_argument("--clinic", required=True, help="the clinic's slug")
    fhir_import.set_defaults(func=cmd_fhir_import)
    run_export = fhir_sub.add_parser("run-export", help="run a bulk export asked for over the API "
                                                         "(started by the server; the worker runs any left)")
    run_export.add_argument("export_id", type=int)
    run_export.set_defaults(func=cmd_fhir_run_export)

    research_cmd = sub.add_parser("research", help="the de-identified research data set")
    research_sub = research_cmd.add_subparsers(dest="research_command", required=True, parser_class=Parser)
    research_export = research_sub.add_parser("export", help="a clinic's data set (Safe Harbor, k-anonymity) "
                                                             "with its data dictionary and report")
    research_export.add_argument("--clinic", required=True, help="the clinic's slug")
    research_export.add_argument("--out", required=True, type=Path, help="FILE.parquet or FILE.csv")
    research_export.set_defaults(func=cmd_research_export)

    monitor = sub.add_parser("monitor", help="bedside monitors (HL7 v2 ORU^R01 over MLLP)")
    monitor_sub = monitor.add_subparsers(dest="monitor_command", required=True, parser_class=Parser)
    listen = monitor_sub.add_parser("listen", help="receive monitors' vitals into sessions in progress")
    listen.add_argument("--clinic", required=True, help="the clinic's slug")
    listen.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    listen.add_argument("--port", type=int, default=2575, help="port (default 2575)")
    listen.add_argument("--allow", action="append", help="a monitor's address or network allowed to "
                                                         "send (repeat; default: loopback only)")
    listen.add_argument("--mrn-authority", action="append", metavar="NAME",
                        help="the assigning authority (PID-3.4: its namespace id or universal id) under "
                             "which this clinic issues MRNs (repeat); an id a monitor sends as issued by "
                             "another is not taken for an MRN, and its message waits for a nurse. "
                             "Default: ids are taken whoever issued them")
    listen.add_argument("--workers", type=positive_int, default=default_workers(),
                        help="processes serving the monitors (default: one per core, at most 4)")
    listen.set_defaults(func=cmd_monitor_listen)
    sim = monitor_sub.add_parser("simulate", help="a simulated monitor for one patient")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=2575)
    sim.add_argument("--mrn", required=True, help="the patient's MRN (sent as PID-3)")
    sim.add_argument("--every", type=float, default=5.0, help="seconds between messages")
    sim.add_argument("--count", type=positive_int, default=10, help="how many messages")
    sim.add_argument("--device", default="", help="the device id (EUI-64); default: a random one")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--quiet", action="store_true", help="print only the summary")
    sim.set_defaults(func=cmd_monitor_simulate, pure=True)

    pk = sub.add_parser("pk", help="pharmacokinetic models and simulation (decision support)")
    pk_cli.add_arguments(pk)
    pk.set_defaults(func=pk_cli.run, pure=True)

    screen = sub.add_parser("screen", help="evaluate an intake file against the eligibility rules")
    screening_cli.add_arguments(screen)
    screen.set_defaults(func=screening_cli.run, pure=True)

    score = sub.add_parser("score", help="score a questionnaire from its answers")
    instruments_cli.add_score_arguments(score)
    score.set_defaults(func=instruments_cli.run_score, pure=True)
    listing = sub.add_parser("instruments", help="list the questionnaires kapclinic scores")
    instruments_cli.add_list_arguments(listing)
    listing.set_defaults(func=instruments_cli.run_list, pure=True)
    protocols = sub.add_parser("protocols", help="list the dosing protocols")
    protocols_cli.add_list_arguments(protocols)
    protocols.set_defaults(func=protocols_cli.run_list, pure=True)
    dose = sub.add_parser("dose", help="calculate a dose against a protocol's range and cap")
    protocols_cli.add_dose_arguments(dose)
    dose.set_defaults(func=protocols_cli.run_dose, pure=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not getattr(args, "pure", False):
            setup_django()
        return args.func(args)
    except (CommandError, config.ConfigurationError) as exc:
        print(f"kapclinic: {exc}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
