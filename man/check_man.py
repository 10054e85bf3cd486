#!/usr/bin/env python3
"""Holds the manual pages to the code, printing TAP.

usage: check_man.py SOURCE_ROOT HELLOD_8 HELLOD_CONF_5

HELLOD_8 and HELLOD_CONF_5 are the pages as the build generated them.

  - every key of config_keys[] in daemon/config.c has an entry in
    hellod.conf(5), whose tag line gives the table's type, range and
    default, and a line (commented or not) in conf/hellod.conf;
  - every long option of daemon/main.c has an entry in hellod(8);
  - both pages render without a single groff warning, are plain ASCII and
    have no placeholder the build left unsubstituted.

Keys only ever need to be added to the pages: a documented key that the
table lacks is reported as a note, not a failure, so the pages may run
ahead of the code.
"""

import ast
import os
import re
import shutil
import subprocess
import sys


class Tap:
    def __init__(self):
        self.results = []
        self.notes = []

    def check(self, ok, desc, diag=None):
        self.results.append((bool(ok), desc, diag))

    def skip(self, desc, why):
        self.results.append((True, f"{desc} # SKIP {why}", None))

    def finish(self):
        print(f"1..{len(self.results)}")
        failed = 0
        for i, (ok, desc, diag) in enumerate(self.results, 1):
            print(f"{'ok' if ok else 'not ok'} {i} - {desc}")
            if not ok:
                failed += 1
                for line in (diag or "").splitlines():
                    print(f"# {line}")
        for note in self.notes:
            print(f"# {note}")
        return 1 if failed else 0


# ---- reading C without a C parser -------------------------------------------
# The table is data written in a regular style; a tokenizer that knows
# strings, characters and comments is enough to take it apart reliably.

C_TOKEN = re.compile(
    r'"(?:\\.|[^"\\\n])*"'  # string literal
    r"|'(?:\\.|[^'\\\n])*'"  # character literal
    r"|/\*.*?\*/"  # block comment
    r"|//[^\n]*",  # line comment
    re.S,
)


def strip_comments(text):
    def repl(m):
        tok = m.group(0)
        return " " if tok.startswith("/") else tok

    return C_TOKEN.sub(repl, text)


def balanced(text, start):
    """The text between the brace at start and its match, and the end."""
    assert text[start] == "{"
    depth = 0
    i = start
    while i < len(text):
        m = C_TOKEN.match(text, i)
        if m and text[i] in "\"'":
            i = m.end()
            continue
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
        i += 1
    raise ValueError("unbalanced braces")


def split_top(text, sep=","):
    """Splits on sep outside braces, parentheses and literals."""
    parts, depth, cur, i = [], 0, [], 0
    while i < len(text):
        m = C_TOKEN.match(text, i)
        if m and text[i] in "\"'":
            cur.append(m.group(0))
            i = m.end()
            continue
        ch = text[i]
        if ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def initializer(text, array):
    """The body of `array[] = { ... }`, or None."""
    m = re.search(r"\b" + re.escape(array) + r"\s*\[\s*\]\s*=\s*\{", text)
    if m is None:
        return None
    return balanced(text, m.end() - 1)[0]


def c_string(literal):
    """The value of one or more adjacent C string literals, or None."""
    parts = re.findall(r'"((?:\\.|[^"\\])*)"', literal)
    if not parts or re.sub(r'"(?:\\.|[^"\\])*"', "", literal).strip():
        return None
    raw = "".join(parts)
    simple = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}
    return re.sub(r"\\(.)", lambda m: simple.get(m.group(1), m.group(0)), raw)


INT_OPS = (ast.Add, ast.Sub, ast.Mult, ast.LShift, ast.FloorDiv)


def c_int(expr):
    """The value of an integer constant expression like 64 * 1024, or None."""
    expr = re.sub(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\b", r"\1", expr.strip())
    expr = expr.replace("/", "//")
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        return None

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp) and isinstance(node.op, INT_OPS):
            left, right = ev(node.left), ev(node.right)
            return {
                ast.Add: lambda: left + right,
                ast.Sub: lambda: left - right,
                ast.Mult: lambda: left * right,
                ast.LShift: lambda: left << right,
                ast.FloorDiv: lambda: left // right,
            }[type(node.op)]()
        raise ValueError(ast.dump(node))

    try:
        return ev(tree)
    except (ValueError, ZeroDivisionError):
        return None


def enum_value(sources, name):
    """The value of an enumerator with implicit values, or None."""
    for text in sources:
        for body in re.findall(r"\benum\b[^{;]*\{([^}]*)\}", text):
            names = [p.split("=")[0].strip() for p in split_top(body)]
            if name in names:
                if "=" in body:
                    return None
                return names.index(name)
    return None


def config_table(root):
    """The keys of config_keys[], each a dict of its fields."""
    daemon = os.path.join(root, "daemon")
    with open(os.path.join(daemon, "config.c"), encoding="utf-8") as f:
        text = strip_comments(f.read())
    headers = []
    for name in sorted(os.listdir(daemon)):
        if name.endswith(".h"):
            with open(os.path.join(daemon, name), encoding="utf-8") as f:
                headers.append(strip_comments(f.read()))
    body = initializer(text, "config_keys")
    if body is None:
        raise ValueError("no config_keys[] initializer in daemon/config.c")
    keys = []
    for entry in split_top(body):
        if not entry.startswith("{"):
            continue
        fields = {}
        for field in split_top(entry[1:-1]):
            m = re.match(r"\.(\w+)\s*=\s*(.*)$", field, re.S)
            if m:
                fields[m.group(1)] = m.group(2).strip()
        name = c_string(fields.get("name", ""))
        if name is None:
            continue
        key = {"name": name, "type": fields.get("type", "")}
        for bound in ("min", "max", "def"):
            if bound in fields:
                key[bound] = c_int(fields[bound])
                if key[bound] is None:
                    key[bound] = enum_value(headers, fields[bound])
        if "def_str" in fields:
            key["def_str"] = c_string(fields["def_str"])
        if "def_list" in fields:
            items = initializer(text, fields["def_list"])
            if items is not None:
                key["def_list"] = [
                    c_string(c) for c in split_top(items) if c != "NULL"
                ]
        if "choices" in fields:
            choices = initializer(text, fields["choices"])
            if choices is not None:
                key["choices"] = [
                    c_string(c) for c in split_top(choices) if c != "NULL"
                ]
        keys.append(key)
    return keys


def long_options(root):
    """(name, takes an argument, short letter or None) of main.c's longopts."""
    with open(os.path.join(root, "daemon", "main.c"), encoding="utf-8") as f:
        text = strip_comments(f.read())
    body = initializer(text, "longopts")
    if body is None:
        raise ValueError("no longopts[] initializer in daemon/main.c")
    opts = []
    for entry in split_top(body):
        parts = split_top(entry.strip()[1:-1]) if entry.startswith("{") else []
        if len(parts) < 4 or c_string(parts[0]) is None:
            continue
        short = re.fullmatch(r"'(.)'", parts[3])
        opts.append(
            (
                c_string(parts[0]),
                parts[1] != "no_argument",
                short.group(1) if short else None,
            )
        )
    return opts


# ---- reading roff ---------------------------------------------------------

ROFF_ESCAPES = [
    (re.compile(r"\\f(\[[^]]*\]|\(..|.)"), ""),  # font changes
    (re.compile(r"\\\((dq)"), '"'),
    (re.compile(r"\\\((lq|rq)"), '"'),
    (re.compile(r"\\-"), "-"),
    (re.compile(r"\\&"), ""),
    (re.compile(r"\\e"), "\\\\"),
    (re.compile(r"\\ "), " "),
]


def roff_text(line):
    """A text or font-macro line as it reads, roughly."""
    m = re.match(r"\.(B|I|BR|RB|BI|IB|IR|RI|SM|SB)\s+(.*)$", line)
    if m:
        args = re.findall(r'"([^"]*)"|(\S+)', m.group(2))
        line = "".join(a or b for a, b in args)
        if len(m.group(1)) == 1:
            line = " ".join(a or b for a, b in args)
    for pattern, repl in ROFF_ESCAPES:
        line = pattern.sub(repl, line)
    return line.strip()


def tags(page_text):
    """The tag line after every .TP: (raw line, text)."""
    lines = page_text.splitlines()
    return [
        (lines[i + 1], roff_text(lines[i + 1]))
        for i, line in enumerate(lines[:-1])
        if line.strip() == ".TP"
    ]


def key_entries(page_text):
    """Key name -> (raw tag, [parts inside the parentheses])."""
    entries = {}
    for raw, text in tags(page_text):
        m = re.fullmatch(r"([A-Za-z_]\w*)(?:\s+\((.*)\))?", text)
        if m:
            parts = [p.strip() for p in (m.group(2) or "").split(";")]
            entries.setdefault(m.group(1), (raw, parts))
    return entries


def is_bold(raw, name):
    return bool(
        re.match(r"\\fB" + re.escape(name) + r"\\f[RP]", raw)
        or re.match(r"\.B[RI]?\s+" + re.escape(name) + r"\b", raw)
    )


def quoted(text):
    return re.findall(r'"([^"]*)"', text)


# ---- the checks -------------------------------------------------------------


def check_keys(tap, root, conf5):
    try:
        keys = config_table(root)
    except (OSError, ValueError) as e:
        tap.check(False, "daemon/config.c: config_keys[] can be read", str(e))
        return
    names = [k["name"] for k in keys]
    tap.check(
        "port" in names,
        f"daemon/config.c: config_keys[] read ({len(keys)} keys)",
        "the table parsed to: " + ", ".join(names),
    )
    with open(os.path.join(root, "conf", "hellod.conf"), encoding="utf-8") as f:
        shipped = f.read()
    entries = key_entries(conf5)

    for key in keys:
        name = key["name"]
        entry = entries.get(name)
        tap.check(
            entry is not None and is_bold(entry[0], name),
            f"hellod.conf.5 has an entry for {name}",
            f'expected a ".TP" tag line "\\fB{name}\\fR (type; ...)"',
        )
        tap.check(
            re.search(
                r"^[ \t]*(#[ \t]*)?" + re.escape(name) + r"[ \t]*[=:]",
                shipped,
                re.M,
            ),
            f"conf/hellod.conf has a line for {name}",
            f'expected "{name} = ..." or "# {name} = ..."',
        )
        if entry is None:
            continue
        parts = entry[1]
        kind, default = parts[0], None
        for part in parts:
            if part.startswith("default "):
                default = part[len("default ") :]
        ctype = key["type"]

        if ctype == "CONFIG_INT":
            tap.check(
                kind == "integer",
                f"hellod.conf.5: {name} is an integer",
                f"tag says: {kind!r}",
            )
            want = f"{key.get('min')} to {key.get('max')}"
            if key.get("min") is None or key.get("max") is None:
                tap.skip(f"hellod.conf.5: range of {name}", "bounds not numeric")
            else:
                tap.check(
                    want in parts,
                    f"hellod.conf.5: range of {name} is {want}",
                    f"tag says: {'; '.join(parts)!r}",
                )
            want = key.get("def")
            if want is None:
                tap.skip(f"hellod.conf.5: default of {name}", "not numeric")
            else:
                tap.check(
                    default == str(want),
                    f"hellod.conf.5: default of {name} is {want}",
                    f"tag says: {default!r}",
                )
        elif ctype == "CONFIG_ENUM":
            choices = key.get("choices")
            if not choices:
                tap.skip(f"hellod.conf.5: values of {name}", "choices not found")
                continue
            tap.check(
                quoted(kind) == choices,
                f"hellod.conf.5: values of {name} are " + ", ".join(choices),
                f"tag says: {kind!r}",
            )
            index = key.get("def")
            if index is None or not 0 <= index < len(choices):
                tap.skip(f"hellod.conf.5: default of {name}", "not resolved")
            else:
                want = f'"{choices[index]}"'
                tap.check(
                    default == want,
                    f"hellod.conf.5: default of {name} is {want}",
                    f"tag says: {default!r}",
                )
        elif ctype == "CONFIG_STRING":
            tap.check(
                kind == "string",
                f"hellod.conf.5: {name} is a string",
                f"tag says: {kind!r}",
            )
            want = key.get("def_str")
            if want is None:
                tap.skip(f"hellod.conf.5: default of {name}", "no literal")
            else:
                tap.check(
                    default == f'"{want}"',
                    f'hellod.conf.5: default of {name} is "{want}"',
                    f"tag says: {default!r}",
                )
        elif ctype == "CONFIG_LIST":
            tap.check(
                kind.startswith("list"),
                f"hellod.conf.5: {name} is a list",
                f"tag says: {kind!r}",
            )
            items = key.get("def_list")
            if items is None or None in items:
                tap.skip(f"hellod.conf.5: default of {name}", "not resolved")
            else:
                want = "[" + ", ".join(f'"{i}"' for i in items) + "]"
                tap.check(
                    default == want,
                    f"hellod.conf.5: default of {name} is {want}",
                    f"tag says: {default!r}",
                )
        elif ctype == "CONFIG_BOOL":
            tap.check(
                kind == "boolean",
                f"hellod.conf.5: {name} is a boolean",
                f"tag says: {kind!r}",
            )
            want = "true" if key.get("def") else "false"
            tap.check(
                default == want,
                f"hellod.conf.5: default of {name} is {want}",
                f"tag says: {default!r}",
            )
        else:
            tap.skip(f"hellod.conf.5: type of {name}", f"{ctype} not known here")

    extra = sorted(
        n for n, (raw, parts) in entries.items() if parts != [""] and n not in names
    )
    if extra:
        tap.notes.append("documented, not in the table yet: " + ", ".join(extra))


def check_options(tap, root, page8):
    try:
        opts = long_options(root)
    except (OSError, ValueError) as e:
        tap.check(False, "daemon/main.c: longopts[] can be read", str(e))
        return
    tap.check(
        len(opts) > 0,
        f"daemon/main.c: longopts[] read ({len(opts)} options)",
    )
    texts = [text for raw, text in tags(page8)]
    for name, has_arg, short in opts:
        long_re = re.compile(r"(?<![\w-])--" + re.escape(name) + r"(?![\w-])")
        found = [t for t in texts if long_re.search(t)]
        tap.check(found, f"hellod.8 has an entry for --{name}")
        if not found:
            continue
        if short is not None:
            short_re = re.compile(r"(?<![\w-])-" + re.escape(short) + r"\b")
            tap.check(
                any(short_re.search(t) for t in found),
                f"hellod.8: --{name} is listed with -{short}",
                "tag: " + found[0],
            )
        if has_arg:
            arg_re = re.compile(long_re.pattern + r"[ =]\w")
            tap.check(
                any(arg_re.search(t) for t in found),
                f"hellod.8: --{name} is shown with its argument",
                "tag: " + found[0],
            )


def check_render(tap, page, text):
    base = os.path.basename(page)
    tap.check(
        text.isascii(),
        f"{base} is plain ASCII",
        "write other characters as groff escapes such as \\(em",
    )
    left = sorted(set(re.findall(r"@[A-Z][A-Z0-9_]*@", text)))
    tap.check(
        not left,
        f"{base} has no unsubstituted placeholder",
        "left as is: " + ", ".join(left),
    )

    # Warnings go to stderr; the formatted output is thrown away.
    env = dict(os.environ, LC_ALL="C", MANWIDTH="80")
    env.pop("MANROFFOPT", None)
    groff = shutil.which("groff")
    if groff is None:
        tap.check(
            False,
            f"{base} renders without groff warnings",
            "groff is not installed: it comes with the groff-base package "
            "(apt-get install groff-base)",
        )
    else:
        run = subprocess.run(
            [groff, "-man", "-ww", "-z", "-Tutf8", page],
            capture_output=True,
            text=True,
            env=env,
        )
        tap.check(
            run.returncode == 0 and not run.stderr.strip(),
            f"{base} renders without groff warnings",
            run.stderr or f"groff exited {run.returncode}",
        )
    man = shutil.which("man")
    if man is None:
        tap.skip(f"{base} renders without man warnings", "man is not installed")
    else:
        run = subprocess.run(
            [man, "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", page],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        tap.check(
            run.returncode == 0 and not run.stderr.strip(),
            f"{base} renders without man warnings",
            run.stderr or f"man exited {run.returncode}",
        )


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    root, page8, conf5 = argv[1:]
    tap = Tap()
    pages = {}
    for page in (page8, conf5):
        try:
            with open(page, encoding="utf-8", errors="replace") as f:
                pages[page] = f.read()
        except OSError as e:
            tap.check(False, f"{os.path.basename(page)} can be read", str(e))
            pages[page] = ""
    check_keys(tap, root, pages[conf5])
    check_options(tap, root, pages[page8])
    for page in (page8, conf5):
        check_render(tap, page, pages[page])
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
