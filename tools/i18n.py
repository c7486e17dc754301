"""Keep the catalogs complete: extract, update, fill English, list or apply French.

python tools/i18n.py update            # extract strings, update fr and en catalogs
python tools/i18n.py missing           # print untranslated French msgids as JSON
python tools/i18n.py apply FILE.json   # merge {"msgid": "traduction"} into fr
python tools/i18n.py compile           # write the .mo files
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
POT = TRANSLATIONS / "messages.pot"


def po_path(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"


def load(lang: str):  # type: ignore[no-untyped-def]
    with po_path(lang).open("rb") as fh:
        return read_po(fh, locale=lang)


def save(catalog, lang: str) -> None:  # type: ignore[no-untyped-def]
    with po_path(lang).open("wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, sort_output=True)


def update() -> None:
    pybabel = [sys.executable, "-m", "babel.messages.frontend"]
    subprocess.run(
        [
            *pybabel,
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "--no-location",
            "--sort-output",
            "-o",
            str(POT),
            "app",
            "templates",
            "templates/_macros",
            "templates/_partials",
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    for lang in ("fr", "en"):
        if po_path(lang).exists():
            subprocess.run(
                [
                    *pybabel,
                    "update",
                    "-i",
                    str(POT),
                    "-d",
                    str(TRANSLATIONS),
                    "-l",
                    lang,
                    "--no-fuzzy-matching",
                    "--ignore-obsolete",
                ],
                check=True,
                cwd=ROOT,
                capture_output=True,
            )
        else:
            subprocess.run(
                [*pybabel, "init", "-i", str(POT), "-d", str(TRANSLATIONS), "-l", lang],
                check=True,
                cwd=ROOT,
                capture_output=True,
            )
    english = load("en")
    for message in english:
        if not message.id:
            continue
        message.flags.discard("fuzzy")
        if isinstance(message.id, tuple):
            message.string = tuple(message.id)
        else:
            message.string = message.id
    save(english, "en")
    save(load("fr"), "fr")


def missing() -> dict[str, str]:
    french = load("fr")
    return {
        (m.id if isinstance(m.id, str) else m.id[0]): ""
        for m in french
        if m.id
        and (
            not m.string
            or (isinstance(m.string, tuple) and not all(m.string))
            or "fuzzy" in m.flags
        )
    }


# French typography: a narrow no-break space before ; : ? ! (and inside « »), so the sign
# never starts a line. The JSON files may use plain spaces; the catalog gets the right one.
_FRENCH_SPACE = re.compile(r"[ \u00a0]([:;?!»])")
_FRENCH_QUOTE = re.compile(r"«[ \u00a0]")


def french_typography(text: str) -> str:
    text = _FRENCH_SPACE.sub("\u202f\\1", text)
    return _FRENCH_QUOTE.sub("«\u202f", text)


def apply(*paths: str) -> None:
    french = load("fr")
    done: dict[str, str | list[str]] = {}
    for path in paths:
        done.update(json.loads(Path(path).read_text(encoding="utf-8")))
    for message in french:
        key = message.id if isinstance(message.id, str) else message.id[0]
        if done.get(key):
            value = done[key]
            if isinstance(value, list):
                value = [french_typography(v) for v in value]
            else:
                value = french_typography(value)
            if isinstance(message.id, tuple):
                message.string = tuple(value) if isinstance(value, list) else (value, value)
            else:
                message.string = value
            message.flags.discard("fuzzy")
    save(french, "fr")


def compile_all() -> None:
    """Write each .mo whole (a temporary file, then a rename): a panel starting meanwhile,
    as tests running in parallel with `make run` do, never reads half a catalog."""
    for lang in ("fr", "en"):
        catalog = load(lang)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        target = po_path(lang).with_suffix(".mo")
        if target.exists() and target.read_bytes() == compiled.getvalue():
            continue
        partial = target.with_suffix(f".mo.{os.getpid()}")
        partial.write_bytes(compiled.getvalue())
        os.replace(partial, target)


if __name__ == "__main__":
    action = sys.argv[1] if len(sys.argv) > 1 else "update"
    if action == "update":
        update()
    elif action == "missing":
        print(json.dumps(missing(), ensure_ascii=False, indent=1))
    elif action == "apply":
        apply(*sys.argv[2:])
    elif action == "sync":
        update()
        apply(*sorted(str(p) for p in (ROOT / "tools" / "fr").glob("*.json")))
        left = missing()
        if left:
            print(json.dumps(left, ensure_ascii=False, indent=1))
            sys.exit(f"{len(left)} French translations missing: add them to tools/fr/*.json")
    elif action == "compile":
        compile_all()
    else:
        sys.exit(__doc__)
