"""The checks of spec §5.2 on a META section, without building the JSON tree.

`check(raw, offset)` raises FormatError("E_METADATA") for everything §5.2 refuses (not
UTF-8, not RFC 8259 JSON, NaN/Infinity, a duplicate member name compared after decoding
escapes, nesting deeper than 64 levels, a top-level value that is not an object) and
returns None otherwise. It allocates no Python object per JSON value, so a 16 MiB META of
millions of empty containers costs a few times its size in memory, not the ~35x of a
tree of Python objects (issue 15, item 6). The tree is built only when a caller asks for
the metadata (`Model.metadata`, `parse`).

With the accelerator, the C reader's validator (`phq_json_object_valid`, the one
phq_open runs) does the work with the GIL released. Without it (PHQ_PURE=1, or no
compiler), three passes at C speed through the standard library and numpy:

1. UTF-8: an incremental decoder over slices (no decoded copy of the whole text);
2. tokens: one regular expression (possessive, so constant memory) matches the whole text
   as a sequence of RFC 8259 tokens: strings with valid escapes and no control
   characters, numbers without leading zeros, `true`/`false`/`null`, and separators;
3. grammar, depth and member names: over chunks of the text, numpy finds the tokens
   (strings are located by quote parity once `\\\\` and `\\"` are blanked out), checks
   that each follows the token before it as JSON's grammar allows, matches brackets with
   a running depth (an explicit stack of at most 64 open containers is carried from one
   chunk to the next), and hashes each member name (decoded) with its object's position;
   equal hashes are then compared exactly (a duplicate, or a rare hash collision).

Memory: the text, one blanked copy, the hashes of the member names (8 bytes a name) and
temporaries of CHUNK bytes' worth of tokens.
"""

from __future__ import annotations

import codecs
import json
import re
from itertools import repeat

import numpy as np

from . import layout as L
from .errors import FormatError

CHUNK = 1 << 17  # bytes of text per numpy pass (temporaries: a few MiB)

_NUM = rb"-?(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][+-]?+[0-9]++)?+"
_STR = rb'"(?:[^"\\\x00-\x1f]++|\\["\\/bfnrt]|\\u[0-9A-Fa-f]{4})*+"'
_SEP = rb"[ \t\n\r{}\[\],:]*+"
# the whole text as tokens: separators, then (a value, separators)*; scalars end at a non-scalar byte
_TOKENS = re.compile(_SEP + rb"(?:(?:" + _STR + rb"|(?:" + _NUM + rb"|true|false|null)(?![-+.0-9A-Za-z]))" + _SEP + rb")*+")

# token kinds
_NONE, _OBJ, _ARR, _COBJ, _CARR, _COLON, _COMMA, _STRING, _SCALAR, _EMPTY = range(10)  # _EMPTY: {} or [] as one token
_KIND = np.zeros(256, np.uint8)
for _ch, _k in ((b"{", _OBJ), (b"[", _ARR), (b"}", _COBJ), (b"]", _CARR), (b":", _COLON), (b",", _COMMA)):
    _KIND[_ch[0]] = _k
_SCALAR_BYTE = np.zeros(256, bool)
_SCALAR_BYTE[list(b"-+.0123456789eEtrufalsn")] = True
_SHOW = {_OBJ: "'{'", _ARR: "'['", _COBJ: "'}'", _CARR: "']'", _COLON: "':'", _COMMA: "','", _STRING: "a string",
         _SCALAR: "a number or literal", _EMPTY: "an empty container"}


def _fail(why: str, offset: int, pos: int | None) -> FormatError:
    where = "" if pos is None else f" (byte {pos} of the metadata)"
    return FormatError("E_METADATA", f"metadata is not valid JSON: {why}{where}", offset + (pos or 0))


def check(raw: bytes, offset: int = 0) -> None:
    """Raise FormatError("E_METADATA") unless raw is what §5.2 allows (see the module doc)."""
    from . import table

    acc = table._accel if table.accel_enabled() else None
    if acc is not None and hasattr(acc, "json_check"):
        bad = acc.json_check(raw)
        if bad is None:
            return
        pos, why = bad
        if why == "invalid UTF-8":
            raise FormatError("E_METADATA", f"metadata is not UTF-8 (byte {pos})", offset + pos)
        if why.startswith("nesting deeper"):
            raise FormatError("E_METADATA", f"metadata nests deeper than {L.MAX_METADATA_DEPTH} levels (byte {pos})", offset + pos)
        for word, at in ((b"NaN", pos), (b"Infinity", pos), (b"-Infinity", pos), (b"-Infinity", pos - 1)):
            if raw.startswith(word, at):
                why = f"{word.decode()} is not JSON"
                break
        if why == "duplicate member name":  # pos: the later name's opening quote
            name = json.loads(re.compile(_STR).match(raw, pos).group())
            why = f"duplicate key {name!r}"
        raise _fail(why, offset, pos)
    check_pure(raw, offset)


def check_pure(raw: bytes, offset: int = 0) -> None:
    """check() without the accelerator."""
    _check_utf8(raw, offset)
    m = _TOKENS.match(raw)
    if m.end() != len(raw):
        raise _fail(_lexical_error(raw, m.end()), offset, m.end())
    # \\ and \" blanked (left to right, as a JSON lexer pairs them): every quote left is a string's end
    blanked = raw.replace(b"\\\\", b"__").replace(b'\\"', b"__")
    hashes = _Grammar(raw, blanked, offset).run()
    if hashes.size > 1:
        hashes.sort()
        if (hashes[1:] == hashes[:-1]).any():
            _duplicate(raw, blanked, offset, hashes)


def _check_utf8(raw: bytes, offset: int) -> None:
    dec = codecs.getincrementaldecoder("utf-8")()
    try:
        for lo in range(0, len(raw), 1 << 20):
            dec.decode(raw[lo : lo + (1 << 20)])
        dec.decode(b"", True)
    except UnicodeDecodeError:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:  # the exact position
            raise FormatError("E_METADATA", f"metadata is not UTF-8 ({e.reason})", offset + e.start) from None
        raise AssertionError("incremental and whole UTF-8 decoding disagree")  # pragma: no cover


def _lexical_error(raw: bytes, pos: int) -> str:
    rest = raw[pos : pos + 16]
    if rest[:1] == b'"' or pos and _in_string(raw, pos):
        return "a string holds a control character or a bad escape, or is not closed"
    for word in (b"NaN", b"Infinity", b"-Infinity"):
        if rest.startswith(word):
            return f"{word.decode()} is not JSON"
    if pos == len(raw):
        return "unexpected end"
    return f"invalid token {rest.decode('utf-8', 'backslashreplace')!r}"


def _in_string(raw: bytes, pos: int) -> bool:
    """Whether pos is inside a string the token pattern stopped in (error messages only)."""
    m = re.compile(_SEP + rb"(?:(?:" + _STR + rb"|[^ \t\n\r{}\[\],:\"]++)" + _SEP + rb")*+").match(raw, 0, pos)
    return m is not None and raw[m.end() : m.end() + 1] == b'"'


class _Grammar:
    """Pass 3 over a lexically valid text: tokens, grammar, depth, member-name hashes.

    State carried between chunks: the open containers (kind and position, at most 64),
    the previous token's kind and whether it was a member name, whether the top-level
    object has begun and ended, the quote parity and whether the last byte was a scalar's."""

    def __init__(self, raw: bytes, blanked: bytes, offset: int):
        self.raw, self.blanked, self.offset = raw, blanked, offset
        self.stack: list[tuple[int, int]] = []  # (kind, position) of each open container
        self.prev, self.prev_key = _NONE, False
        self.started = self.closed = False
        self.parity = 0
        self.scalar_tail = False
        self.first_byte = len(raw) - len(raw.lstrip(b" \t\n\r"))
        self.hashes: list[np.ndarray] = []
        self.want_names: set | None = None  # the exact pass of _duplicate: hashes to collect names for
        self.names: list = []

    def run(self) -> np.ndarray:
        n = len(self.raw)
        for lo in range(0, n, CHUNK):
            self._chunk(lo, min(n, lo + CHUNK))
        if not self.started:
            raise _fail("no top-level object", self.offset, n)
        if not self.closed:
            raise _fail("the top-level object is not closed", self.offset, n)
        return np.concatenate(self.hashes) if self.hashes else np.zeros(0, np.int64)

    def _chunk(self, lo: int, hi: int) -> None:
        tb = np.frombuffer(self.blanked, np.uint8, hi - lo, lo)
        quote = tb == 34
        inside = np.bitwise_xor.accumulate(quote.view(np.uint8))  # 1 from an opening quote to before its closing one
        if self.parity:
            inside ^= 1
        self.parity = int(inside[-1])
        inside = inside.view(bool)
        kind = _KIND[tb]
        kind[inside] = _NONE
        scalar = _SCALAR_BYTE[tb] & ~inside
        first = scalar.copy()
        first[1:] &= ~scalar[:-1]
        if self.scalar_tail:
            first[0] = False
        self.scalar_tail = bool(scalar[-1])
        kind[first] = _SCALAR
        opening = quote & inside
        kind[opening] = _STRING
        # {} and [] (adjacent bytes) as one value token: no closer to match, depth checked as
        # one level below the token's container; not the text's first token (the top level)
        empty = ((kind[:-1] == _OBJ) & (kind[1:] == _COBJ)) | ((kind[:-1] == _ARR) & (kind[1:] == _CARR))
        if lo <= self.first_byte < hi:
            empty[self.first_byte - lo : self.first_byte - lo + 1] = False
        e_at = np.flatnonzero(empty)
        kind[e_at] = _EMPTY
        kind[e_at + 1] = _NONE
        at = np.flatnonzero(kind)
        if not at.size:
            return
        k = kind[at]
        closing = np.flatnonzero(quote & ~inside) + lo  # to find the end of member names
        self._tokens(k, at + lo, closing)

    def _tokens(self, k: np.ndarray, pos: np.ndarray, closing: np.ndarray) -> None:
        m = k.size
        opener = (k == _OBJ) | (k == _ARR)
        closer = (k == _COBJ) | (k == _CARR)
        depth0 = len(self.stack)
        after = np.cumsum(opener.view(np.int8) - closer.view(np.int8), dtype=np.int32)  # depth after each token
        after += depth0
        prevk = np.empty(m, np.uint8)
        prevk[0] = self.prev
        prevk[1:] = k[:-1]
        # the container of a token: set by the last bracket before it in this chunk (an
        # opener opens its own; a closer returns to the last opener at the level it leaves,
        # found by a search over the openers sorted by level), else the container open when
        # the chunk began (the top of the carried stack)
        M = m + 1
        op_idx = np.flatnonzero(opener)
        op_key = after[op_idx].astype(np.int64) * M + op_idx  # ascending within a level: sort groups the levels
        op_key.sort()
        bracket = np.flatnonzero(opener | closer)
        cont = k[bracket].copy()  # container kind in force after each bracket
        cont_at = bracket.astype(np.int64)  # its opener's token index (-1 - level: carried)
        cl = np.flatnonzero(closer[bracket])
        if cl.size:
            level = np.clip(after[bracket[cl]], 0, L.MAX_METADATA_DEPTH + 1).astype(np.int64)
            if op_key.size:
                j = np.searchsorted(op_key, level * M + bracket[cl]) - 1
                hit = op_key[np.maximum(j, 0)]
                found = (j >= 0) & (hit // M == level)
            else:
                hit, found = np.zeros(cl.size, np.int64), np.zeros(cl.size, bool)
            src = hit % M
            kinds = np.array([_NONE] + [s[0] for s in self.stack] + [_NONE] * (L.MAX_METADATA_DEPTH + 2), np.uint8)
            cont[cl] = np.where(found, k[src], kinds[level])
            cont_at[cl] = np.where(found, src, -1 - level)
        mark = np.full(m, -1, np.int64)
        mark[bracket] = np.arange(bracket.size)
        src_b = np.empty(m, np.int64)  # index into bracket of the last bracket before each token (-1: none)
        src_b[0] = -1
        np.maximum.accumulate(mark[:-1], out=src_b[1:])
        has = src_b >= 0
        ctx = np.full(m, self.stack[-1][0] if self.stack else _NONE, np.uint8)
        ctx_at = np.full(m, -1 - depth0, np.int64)
        ctx[has] = cont[src_b[has]]
        ctx_at[has] = cont_at[src_b[has]]
        is_key = (k == _STRING) & (ctx == _OBJ) & ((prevk == _OBJ) | (prevk == _COMMA))
        prev_key = np.empty(m, bool)
        prev_key[0] = self.prev_key
        prev_key[1:] = is_key[:-1]
        value_end = (prevk == _COBJ) | (prevk == _CARR) | (prevk == _SCALAR) | (prevk == _EMPTY) | ((prevk == _STRING) & ~prev_key)
        value_start = (prevk == _ARR) | (prevk == _COLON) | ((prevk == _COMMA) & (ctx == _ARR))
        ok = (opener | (k == _SCALAR) | (k == _EMPTY)) & value_start
        ok |= (k == _STRING) & (is_key | value_start)
        ok |= (k == _COLON) & prev_key
        ok |= (k == _COMMA) & value_end
        ok |= closer & (value_end | (prevk == k - 2)) & (ctx == k - 2)  # } closes {, ] closes [
        if not self.started:
            ok[0] = k[0] == _OBJ
        bad = ~ok
        # the top-level object closes where the depth returns to 0: nothing may follow it
        top_end = np.flatnonzero(closer & (after == 0))
        if self.closed:
            bad[:] = True
        elif top_end.size:
            bad[top_end[0] + 1 :] = True
        bad |= after < 0
        bad |= opener & (after > L.MAX_METADATA_DEPTH)
        bad |= (k == _EMPTY) & (after >= L.MAX_METADATA_DEPTH)
        if bad.any():
            first_bad = int(np.argmax(bad))
            p = int(pos[first_bad])
            if not self.started and first_bad == 0:
                raise _fail("the top-level value is not an object", self.offset, p)
            if self.closed or (top_end.size and first_bad > top_end[0]):
                raise _fail("data after the top-level object", self.offset, p)
            if ok[first_bad]:
                raise FormatError("E_METADATA", f"metadata nests deeper than {L.MAX_METADATA_DEPTH} levels (byte {p})",
                                  self.offset + p)
            raise _fail(f"unexpected {_SHOW[int(k[first_bad])]}", self.offset, p)
        if is_key.any():  # member names, with the position of their object's opener
            keys = np.flatnonzero(is_key)
            at = ctx_at[keys]
            where = np.array([-1] + [s[1] for s in self.stack] + [-1] * (L.MAX_METADATA_DEPTH + 2), np.int64)
            obj_pos = np.where(at >= 0, pos[np.maximum(at, 0)], where[np.clip(-1 - at, 0, None)])
            self._names(pos[keys], obj_pos, closing)
        # carry
        self.started = True
        self.closed = bool(top_end.size)
        depth = int(after[-1])
        stack = []
        for lev in range(1, depth + 1):
            jj = int(np.searchsorted(op_key, lev * M + m)) - 1
            if jj >= 0 and op_key[jj] // M == lev:
                i = int(op_key[jj] % M)
                stack.append((int(k[i]), int(pos[i])))
            else:
                stack.append(self.stack[lev - 1])
        self.stack = stack
        self.prev, self.prev_key = int(k[-1]), bool(is_key[-1])

    def _names(self, starts: np.ndarray, objects: np.ndarray, closing: np.ndarray) -> None:
        """Hash (object position, decoded name) of each member name: Python's hash of the
        name's bytes (randomized per process: a file cannot be made to collide), mixed with
        the object's position."""
        j = np.searchsorted(closing, starts, side="right")
        ends = (np.where(j < closing.size, closing[np.minimum(j, closing.size - 1)], -1) if closing.size else -1 - j).tolist()
        raw, blanked = self.raw, self.blanked
        firsts = (starts + 1).tolist()
        if -1 in ends:  # a name that ends in a later chunk
            ends = [e if e >= 0 else blanked.index(b'"', s) for s, e in zip(firsts, ends)]
        names = list(map(raw.__getitem__, map(slice, firsts, ends)))
        escaped = [i for i, at in enumerate(map(raw.find, repeat(b"\\", len(names)), firsts, ends)) if at >= 0]
        if escaped:  # compared after decoding escapes (§5.2), in one json.loads; a lone surrogate stays itself
            decoded = json.loads(b'["' + b'","'.join([names[i] for i in escaped]) + b'"]')
            for i, text in zip(escaped, decoded):
                names[i] = text.encode("utf-8", "surrogatepass")
        h = np.fromiter(map(hash, names), np.int64, len(names)).view(np.uint64)
        h += _mix(objects.astype(np.uint64))
        self.hashes.append(h.view(np.int64))
        if self.want_names is not None:
            for hv, obj, name, s in zip(h.view(np.int64).tolist(), objects.tolist(), names, starts.tolist()):
                if hv in self.want_names:
                    self.names.append((s, obj, name))


def _mix(x: np.ndarray) -> np.ndarray:
    """fmix64 of MurmurHash3 (a bijection of uint64), vectorized."""
    x = x ^ (x >> np.uint64(33))
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    x ^= x >> np.uint64(33)
    return x


def _duplicate(raw: bytes, blanked: bytes, offset: int, hashes: np.ndarray) -> None:
    """Equal hashes: find the names again and compare them exactly (raise for a duplicate)."""
    same = hashes[1:] == hashes[:-1]
    g = _Grammar(raw, blanked, offset)
    g.want_names = set(hashes[1:][same].tolist())
    g.run()
    seen: dict = {}
    for s, obj, name in sorted(g.names):
        if (obj, name) in seen:
            shown = name.decode("utf-8", "surrogatepass")
            raise FormatError("E_METADATA", f"metadata is not valid JSON: duplicate key {shown!r} (byte {s} of the metadata)",
                              offset + s)
        seen[obj, name] = s


def parse(raw: bytes, offset: int = 0):
    """The metadata object of a META text that check() accepted, as Python values: a dict
    per object, a list per array, int (or decimal.Decimal past Python's int() digit
    limit) and float numbers (1e400 is infinity)."""
    import decimal
    import gc

    def integer(digits: str):
        try:
            return int(digits)
        except ValueError:
            return decimal.Decimal(digits)

    text = raw.decode("utf-8")
    enabled = gc.isenabled()
    gc.disable()  # the collector would walk every container made so far, again and again
    try:
        try:
            return json.loads(text)
        except ValueError as e:  # more than 4300 digits: Python's int() limit, not JSON's
            if "integer string conversion" not in str(e):
                raise
            return json.loads(text, parse_int=integer)
    finally:
        if enabled:
            gc.enable()


def top_level_names(raw: bytes) -> list[str]:
    """The member names of the top-level object of a META text that check() accepted, in
    order, without parsing the values (a shallow scan: what `phq inspect` lists)."""
    names: list[str] = []
    for batch, _, _ in _top_level(raw):
        names += batch
    return names


def top_level_members(raw: bytes) -> list[tuple[str, int, int]]:
    """(name, start, end) of each member of the top-level object of a META text that
    check() accepted: raw[start:end] is the member's value as JSON text (no white space
    around it). One light pass (quote parity and depth only: the text is known valid), no
    tree."""
    out = []
    ws = b" \t\n\r"
    for names, starts, ends in _top_level(raw):
        for name, start, end in zip(names, starts.tolist(), ends.tolist()):
            while raw[start] in ws:
                start += 1
            while raw[end - 1] in ws:
                end -= 1
            out.append((name, start, end))
    return out


_BATCH = 1 << 16  # member names decoded per json.loads


def _top_level(raw: bytes):
    """Batches (names, value starts, value ends) of the top-level members, values with any
    white space around them."""
    blanked = raw.replace(b"\\\\", b"__").replace(b'\\"', b"__")
    depth, parity = 0, 0
    colons, ends, opens, closes = [], [], [], []
    for lo in range(0, len(raw), CHUNK):
        tb = np.frombuffer(blanked, np.uint8, min(CHUNK, len(raw) - lo), lo)
        quote = tb == 34
        inside = np.bitwise_xor.accumulate(quote.view(np.uint8))
        if parity:
            inside ^= 1
        parity = int(inside[-1])
        inside = inside.view(bool)
        kind = _KIND[tb]
        kind[inside] = _NONE
        d = np.cumsum(((kind == _OBJ) | (kind == _ARR)).view(np.int8) - ((kind == _COBJ) | (kind == _CARR)).view(np.int8),
                      dtype=np.int32)
        d += depth
        depth = int(d[-1])
        colons.append(np.flatnonzero((kind == _COLON) & (d == 1)) + lo)
        ends.append(np.flatnonzero(((kind == _COMMA) & (d == 1)) | ((kind == _COBJ) & (d == 0))) + lo)
        opens.append(np.flatnonzero(quote & inside & (d == 1)) + lo)
        closes.append(np.flatnonzero(quote & ~inside & (d == 1)) + lo)
    if not colons:
        return
    colons_a, ends_a, opens_a, closes_a = map(np.concatenate, (colons, ends, opens, closes))
    del colons, ends, opens, closes
    for lo in range(0, colons_a.size, _BATCH):
        c = colons_a[lo : lo + _BATCH]
        name_at = opens_a[np.searchsorted(opens_a, c) - 1].tolist()  # each name's quotes
        name_end = (closes_a[np.searchsorted(closes_a, c) - 1] + 1).tolist()
        names = json.loads(b"[" + b",".join(map(raw.__getitem__, map(slice, name_at, name_end))) + b"]")
        yield names, c + 1, ends_a[lo : lo + _BATCH]
