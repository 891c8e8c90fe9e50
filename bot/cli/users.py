"""`loket users add|list|password|disable|enable|delete`: accounts for makelaars, coordination and admins.

The password never appears on the command line (it would end up in the shell history and in `ps`):
it comes from a prompt, or from LOKET_NEW_PASSWORD for scripted setups.
"""

from __future__ import annotations

import getpass
import os
import sys

from sqlalchemy import select

from bot import models
from bot.settings import Settings

PASSWORD_ENV = "LOKET_NEW_PASSWORD"


def _read_password() -> str | None:
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        print(f"Geen wachtwoord: zet {PASSWORD_ENV} of start het commando in een terminal.",
              file=sys.stderr)
        return None
    first = getpass.getpass("Wachtwoord (minstens 10 tekens): ")
    if getpass.getpass("Nog een keer: ") != first:
        print("De wachtwoorden zijn niet gelijk.", file=sys.stderr)
        return None
    return first


def cmd_users_add(args, settings: Settings) -> int:
    from bot.db import get_engine, session_scope, upgrade
    from bot.web.auth import create_user

    password = _read_password()
    if password is None:
        return 1
    upgrade(settings.database_url)
    try:
        with session_scope(get_engine(settings.database_url)) as session:
            user = create_user(session, args.username.strip(), password, args.role,
                               team_id=args.team, display_name=args.display_name or "")
            team = f", team {user.team_id}" if user.team_id else ""
            print(f"Gebruiker {user.username} aangemaakt (rol {user.role}{team}).")
    except ValueError as exc:
        print(f"Niet aangemaakt: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_users_list(args, settings: Settings) -> int:
    from bot.db import get_engine, session_scope, upgrade

    upgrade(settings.database_url)
    with session_scope(get_engine(settings.database_url)) as session:
        users = session.execute(select(models.User).order_by(models.User.username)).scalars().all()
        if not users:
            print("Er zijn nog geen gebruikers. Maak er een met: loket users add")
            return 0
        print(f"{'gebruiker':<28} {'rol':<12} {'team':<20} {'actief':<7} laatst ingelogd")
        for u in users:
            last = u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "-"
            print(f"{u.username:<28} {u.role:<12} {(u.team_id or '-'):<20} "
                  f"{'ja' if u.active else 'nee':<7} {last}")
    return 0


def _find(session, username: str) -> models.User | None:
    user = session.execute(select(models.User).where(models.User.username == username.strip())
                           ).scalar_one_or_none()
    if user is None:
        print(f"Gebruiker {username!r} bestaat niet. Bekijk de gebruikers met: loket users list",
              file=sys.stderr)
    return user


def cmd_users_password(args, settings: Settings) -> int:
    from bot.db import get_engine, session_scope, upgrade
    from bot.web.auth import set_password

    upgrade(settings.database_url)
    with session_scope(get_engine(settings.database_url)) as session:
        if _find(session, args.username) is None:
            return 1
    password = _read_password()
    if password is None:
        return 1
    try:
        with session_scope(get_engine(settings.database_url)) as session:
            set_password(session, _find(session, args.username), password)
    except ValueError as exc:
        print(f"Niet gewijzigd: {exc}", file=sys.stderr)
        return 1
    print(f"Het wachtwoord van {args.username} is gewijzigd. Wie ingelogd was, moet opnieuw inloggen.")
    return 0


def _set_active(args, settings: Settings, active: bool) -> int:
    from bot.db import get_engine, session_scope, upgrade
    from bot.web.auth import end_sessions

    upgrade(settings.database_url)
    with session_scope(get_engine(settings.database_url)) as session:
        user = _find(session, args.username)
        if user is None:
            return 1
        user.active = active
        end_sessions(user)  # a disabled account is logged out everywhere at once
    if active:
        print(f"Gebruiker {args.username} kan weer inloggen.")
    else:
        print(f"Gebruiker {args.username} is uitgeschakeld: inloggen kan niet meer en open sessies "
              "zijn beëindigd. Weer aanzetten: loket users enable " + args.username)
    return 0


def cmd_users_disable(args, settings: Settings) -> int:
    return _set_active(args, settings, False)


def cmd_users_enable(args, settings: Settings) -> int:
    return _set_active(args, settings, True)


def _references(session, user_id: int) -> int:
    """Rows that name this user: claimed handoffs, notes, knelpunt history (the team's records)."""
    from sqlalchemy import func

    return sum(int(session.execute(select(func.count()).where(column == user_id)).scalar_one())
               for column in (models.Handoff.claimed_by, models.HandoffNote.user_id,
                              models.KnelpuntHistory.user_id))


def cmd_users_delete(args, settings: Settings) -> int:
    from bot.db import get_engine, session_scope, upgrade

    upgrade(settings.database_url)
    with session_scope(get_engine(settings.database_url)) as session:
        user = _find(session, args.username)
        if user is None:
            return 1
        if _references(session, user.id):
            # Deleting would leave notes and history without an author: keep the account, switch it off.
            print(f"Gebruiker {args.username} heeft overdrachten, notities of wijzigingen op zijn naam. "
                  "Die blijven bewaard, dus de gebruiker kan niet weg. Schakel de gebruiker uit met: "
                  f"loket users disable {args.username}", file=sys.stderr)
            return 1
        session.delete(user)
    print(f"Gebruiker {args.username} is verwijderd.")
    return 0


def register(subparsers) -> None:
    users = subparsers.add_parser("users", help="gebruikers van het portaal en het dashboard")
    sub = users.add_subparsers(dest="users_command", required=True)

    add = sub.add_parser("add", help=f"gebruiker toevoegen (wachtwoord via prompt of {PASSWORD_ENV})")
    add.add_argument("--username", required=True, help="inlognaam, bijvoorbeeld makelaar.zwolle")
    add.add_argument("--role", required=True, choices=("makelaar", "coordinatie", "admin"))
    add.add_argument("--team", help="id van het makelaarsteam uit knowledge/makelaarsteams.yml "
                                    "(verplicht voor een makelaar)")
    add.add_argument("--display-name", help="naam die collega's zien bij notities")
    add.set_defaults(func=cmd_users_add)

    sub.add_parser("list", help="gebruikers tonen").set_defaults(func=cmd_users_list)

    for name, func, text in (
        ("password", cmd_users_password,
         f"nieuw wachtwoord (via prompt of {PASSWORD_ENV}); open sessies worden beëindigd"),
        ("disable", cmd_users_disable, "gebruiker uitschakelen: niet meer inloggen, sessies beëindigd"),
        ("enable", cmd_users_enable, "uitgeschakelde gebruiker weer aanzetten"),
        ("delete", cmd_users_delete, "gebruiker verwijderen (alleen zonder overdrachten of notities)"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("username", help="inlognaam, bijvoorbeeld makelaar.zwolle")
        p.set_defaults(func=func)
