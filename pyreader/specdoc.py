"""`phq spec show [DOCUMENT] [SECTION]`: the specification, shipped inside the package.

The chapter files of spec/ are package data (`phq.spec`, pyproject.toml), so a pip install
has them: `phq spec show` lists the documents, `phq spec show format-v1.0` prints one,
`phq spec show 7.2` prints section 7.2 of the base format spec (format-v1.0), and
`phq spec show nlu-profile-v3 4.2` a section of another document.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import UsageError

BASE = "format-v1.0"  # the document a bare section number refers to
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_NUMBER = re.compile(r"§?([0-9]+(?:\.[0-9]+)*)\.?\Z")


def spec_dir() -> Path:
    """The spec's folder: the installed package data, or the checkout's spec/ (editable installs)."""
    try:
        from importlib.resources import files

        d = files("phq.spec")
        if d.joinpath(f"{BASE}.md").is_file():
            return Path(str(d))
    except (ImportError, ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[1] / "spec"


def documents() -> dict[str, Path]:
    """Document name (file stem) -> path, README first."""
    d = spec_dir()
    docs = sorted(d.glob("*.md"), key=lambda p: (p.stem != "README", p.stem))
    if not docs:
        raise UsageError(f"the specification files are missing from this installation ({d})")
    return {p.stem: p for p in docs}


def _title(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _HEADING.match(line)
        if m:
            return m.group(2).strip()
    return path.stem


def index() -> str:
    lines = ["The phq specification (shipped with phq; `phq spec show DOCUMENT [SECTION]`):", ""]
    for name, path in documents().items():
        lines.append(f"  {name:<18} {_title(path)}")
    lines += ["", f"A bare section number refers to {BASE}: `phq spec show 7.2`."]
    return "\n".join(lines) + "\n"


def _document(name: str) -> Path:
    docs = documents()
    key = name[:-3] if name.endswith(".md") else name
    key = key.rsplit("/", 1)[-1]
    if key in docs:
        return docs[key]
    matches = [n for n in docs if n.startswith(key)]
    if len(matches) == 1:
        return docs[matches[0]]
    raise UsageError(f"no spec document {name!r}" + (f" (several start so: {matches})" if matches else "")
                     + f"; documents: {', '.join(docs)}")


def section(text: str, number: str) -> str | None:
    """The heading numbered `number` (e.g. 7.2) and its body, up to the next heading of the
    same or a higher level; None when there is none."""
    lines = text.splitlines()
    start = level = None
    for i, line in enumerate(lines):
        m = _HEADING.match(line)
        if not m:
            continue
        if start is None:
            words = m.group(2).split()
            if words and words[0].lstrip("§").rstrip(".") == number:
                start, level = i, len(m.group(1))
        elif len(m.group(1)) <= level:
            return "\n".join(lines[start:i]).rstrip() + "\n"
    return None if start is None else "\n".join(lines[start:]).rstrip() + "\n"


def _numbers(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m and len(m.group(1)) == 2:
            w = m.group(2).split()
            if w and _NUMBER.match(w[0]):
                out.append(w[0].rstrip("."))
    return out


def show(document: str | None = None, number: str | None = None) -> str:
    """What `phq spec show` prints."""
    if document is None:
        return index()
    if number is None and _NUMBER.match(document):
        document, number = BASE, document
    path = _document(document)
    text = path.read_text(encoding="utf-8")
    if number is None:
        return text if text.endswith("\n") else text + "\n"
    m = _NUMBER.match(number)
    if not m:
        raise UsageError(f"a section is a number such as 7 or 7.2 (or §7.2), got {number!r}")
    found = section(text, m.group(1))
    if found is None:
        raise UsageError(f"{path.stem} has no section {m.group(1)}; its sections: {', '.join(_numbers(text))}")
    return found
