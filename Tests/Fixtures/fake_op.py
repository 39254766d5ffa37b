#!/usr/bin/env python3
"""A stand-in for the 1Password CLI: `op read` and `op item get --format json` over a JSON
vault file, requiring the service-account token in OP_SERVICE_ACCOUNT_TOKEN (as the real CLI
does for service accounts). Error messages follow op's `[ERROR] …` style.

usage: fake_op.py VAULT_JSON EXPECTED_TOKEN op-arguments…
"""
import json
import os
import sys
from urllib.parse import unquote

vault_file, expected_token, args = sys.argv[1], sys.argv[2], sys.argv[3:]


def fail(message, code=1):
    sys.stderr.write("[ERROR] 2026/11/27 12:00:00 " + message + "\n")
    sys.exit(code)


if os.environ.get("OP_SERVICE_ACCOUNT_TOKEN") != expected_token:
    fail("authentication failed: invalid service account token")
if any(expected_token in a for a in args):
    fail("the token must never be an argument")

with open(vault_file) as handle:
    vaults = json.load(handle)["vaults"]


def find(items, key, wanted):
    for item in items:
        if item.get(key, "").lower() == wanted.lower() or item.get("id") == wanted:
            return item
    return None


def item_for(vault_name, item_name):
    vault = find(vaults, "name", vault_name)
    if vault is None:
        fail(f'could not find vault "{vault_name}"')
    item = find(vault["items"], "title", item_name)
    if item is None:
        fail(f'could not find item "{item_name}" in vault "{vault_name}"')
    return item


def positional(arguments):
    """Arguments that are not flags, as cobra (op's parser) reads them: a `--` ends the flags,
    and a value starting with '-' before it would be taken as a flag."""
    if "--" in arguments:
        cut = arguments.index("--")
        return [a for a in arguments[:cut] if not a.startswith("-")] + arguments[cut + 1:]
    return [a for a in arguments if not a.startswith("-")]


if args[:1] == ["read"]:
    newline = "--no-newline" not in args
    ref = positional(args[1:])[0]
    if not ref.startswith("op://"):
        fail("secret reference must start with op://")
    attribute = None
    if "?" in ref:
        ref, query = ref.split("?", 1)
        attribute = query.split("=", 1)[1]
    parts = [unquote(p) for p in ref[5:].split("/")]
    if len(parts) not in (3, 4):
        fail("invalid secret reference")
    item = item_for(parts[0], parts[1])
    section = parts[2] if len(parts) == 4 else None
    field_name = parts[-1]
    sections = {s["id"]: s.get("label", "") for s in item.get("sections", [])}
    for field in item["fields"]:
        if field_name.lower() not in (field.get("label", "").lower(), field.get("id", "").lower()):
            continue
        if section is not None:
            sid = (field.get("section") or {}).get("id")
            if sid is None or section.lower() not in (sid.lower(), sections.get(sid, "").lower()):
                continue
        value = field.get({"otp": "totp", "type": "type", "id": "id", "label": "label"}.get(attribute, "value"), "")
        sys.stdout.write(value + ("\n" if newline else ""))
        sys.exit(0)
    fail(f'could not find field "{field_name}" on item "{parts[1]}"')
elif args[:2] == ["item", "get"]:
    vault_name = args[args.index("--vault") + 1]
    item_name = [a for a in positional(args[2:]) if a != vault_name and a != "json"][0]
    print(json.dumps(item_for(vault_name, item_name)))
else:
    fail("unsupported command: " + " ".join(args), 2)
