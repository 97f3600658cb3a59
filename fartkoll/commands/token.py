"""`fartkoll token issue | list | revoke`: the upload tokens signs send their passes with."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from ..settings import Settings
from . import setup_output as out

EPILOG = """\
examples:
  fartkoll token issue HR-SS300-88102 --label "modem in cabinet 7"
      prints the token once; put it in the collector's settings (forward token) at the sign
  fartkoll token list HR-SS300-88102
  fartkoll token revoke 12          (the id from `token list`; uploads with it stop at once)"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("token", help="issue, list and revoke signs' upload tokens",
                       description="Upload tokens: a sign (or its collector) sends passes to `fartkoll serve` with "
                                   "'Authorization: Bearer <token>'. Only a hash is stored: a token is shown once.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ps = p.add_subparsers(dest="token_cmd", required=True, metavar="ACTION")
    i = ps.add_parser("issue", help="issue a new upload token for a sign (shown once)", epilog=EPILOG,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    i.add_argument("sign", metavar="SIGN", help="the sign's serial number (or id)")
    i.add_argument("--label", default="", help="what the token is for, e.g. 'modem in cabinet 7'")
    i.add_argument("--json", action="store_true", help="print JSON (as the API answers)")
    i.set_defaults(handler=issue)

    ls = ps.add_parser("list", help="upload tokens (never the tokens themselves)",
                       description="Upload tokens with their id, sign, label, when issued and when revoked. The "
                                   "tokens themselves are not stored and cannot be shown again: issue a new one.")
    ls.add_argument("sign", metavar="SIGN", nargs="?", help="only this sign's (serial number or id)")
    ls.add_argument("--json", action="store_true", help="print JSON (as the API answers)")
    ls.set_defaults(handler=list_)

    r = ps.add_parser("revoke", help="revoke an upload token: the sign's uploads with it stop at once",
                      description="Revoke an upload token by its id (from `fartkoll token list`). Uploads with "
                                  "it are refused at once; revoking it again changes nothing.")
    r.add_argument("token_id", metavar="TOKEN_ID", type=int, help="the token's id, from `fartkoll token list`")
    r.add_argument("--json", action="store_true", help="print JSON (as the API answers)")
    r.set_defaults(handler=revoke)


def _issued(t) -> str:
    return (f"token {t.id} for sign {t.serial}{' (' + t.label + ')' if t.label else ''}:\n\n    {t.token}\n\n"
            "It is shown only now: copy it into the collector's settings (forward token) at the sign. "
            f"`fartkoll token revoke {t.id}` stops it.")


def issue(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup import refs
    from collector.setup.sign_tokens import issue_token

    return out.run("token issue", settings, lambda conn: issue_token(
        conn, actor=out.actor(), sign_id=refs.sign(conn, args.sign).id, label=args.label),
        as_json=args.json, text=_issued)


def list_(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup import refs
    from collector.setup.sign_tokens import list_tokens

    return out.run("token list", settings, lambda conn: list_tokens(
        conn, sign_id=refs.sign(conn, args.sign).id if args.sign else None), as_json=args.json,
        text=lambda rows: out.table(rows, ["id", "serial", "label", "created_at", "revoked_at"]))


def revoke(args: argparse.Namespace, settings: Settings) -> int:
    from collector.setup.sign_tokens import revoke_token

    now = datetime.now(UTC)
    return out.run("token revoke", settings, lambda conn: revoke_token(
        conn, actor=out.actor(), token_id=args.token_id, at=now), as_json=args.json)
