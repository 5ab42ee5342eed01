"""Flag submitted code that a teacher should read by hand.

``review(cells)`` takes the ``(label, source)`` of the cells grading runs and returns
short flags such as ``"cell 7: uses ctypes"``: in cell order, each once, the same for
the same input. It flags code that reaches past the learner's side of the course:

* **course internals**: importing any of ``course`` but ``check``, ``progress`` and
  ``course.expr``, or following attributes from it (``course.checkers``,
  ``check.__globals__``);
* **frames**: ``sys._getframe``, ``inspect.currentframe``/``stack``/``getouterframes``, and
  the attributes ``f_back``, ``f_globals``, ``f_locals``, ``tb_frame``, ``gi_frame``,
  ``cr_frame``;
* **the garbage collector** (any use of ``gc``) and **ctypes**;
* **process control**: ``os.fork``/``kill``/``_exit``/``setsid``/``system``/...,
  ``pty.fork``, ``signal``, ``multiprocessing``, ``subprocess``;
* **patching**: assigning to attributes of ``builtins``/``__builtins__``, or of a module
  or name the cell imported (``np.allclose = ...``);
* **code built at run time**: ``exec``, ``eval``, ``compile``, ``__import__`` or
  ``importlib`` given anything but a string literal (a literal is reviewed like a cell).

The cells are read with :mod:`ast`, IPython-only lines (``%magic``, ``!shell``) commented
out; names are resolved through imports and plain assignments, across cells (``import os
as o; o.kill``, ``from os import kill as k``), and a name the learner binds to data
(``signal = np.sin(t)``) is not a module. Comments and strings are not flagged, except a
string given to ``exec``/``eval``/``compile``, which is reviewed as code. A cell that
does not parse is scanned with regular expressions instead (comment lines skipped, the
rest of the text read, strings included), so a syntax error hides nothing.

The flags are hints for a human, never deductions: a flagged cell may be innocent, and
clean code may still cheat. Grading only reports them, in the ``review`` column.
"""

import ast
import re

FRAME_ATTRS = ("f_back", "f_globals", "f_locals", "tb_frame", "gi_frame", "cr_frame")
DYNAMIC = ("exec", "eval", "compile", "__import__")
BUILTINS = ("builtins", "__builtins__")
LEARNER_API = ("course.check", "course.progress")  # and course.expr, all of it

# a flag ({} is the part that matched) and the resolved dotted names it is for: "os.kill"
# and "os.kill.__call__" are os.kill, "gc.collect" is gc
RULES = [(flag, re.compile(rf"({pattern})(?:\.|$)")) for flag, pattern in [
    ("inspects frames ({})",
     r"sys\.(?:_getframe|_current_frames|settrace|setprofile)"
     r"|inspect\.(?:currentframe|stack|trace|getouterframes|getinnerframes)"),
    ("uses the garbage collector (gc)", r"gc"),
    ("uses ctypes", r"_?ctypes"),
    ("controls processes ({})",
     r"(?:os|posix)\.(?:fork|forkpty|kill|killpg|_exit|abort|setsid|system|popen"
     r"|exec\w*|spawn\w*|posix_spawnp?)|pty\.(?:fork|spawn)|_?signal|_?multiprocessing"
     r"|subprocess|_posixsubprocess|concurrent\.futures\.(?:process|ProcessPoolExecutor)"),
]]


def review(cells: list[tuple[str, str]]) -> list[str]:
    """``"label: flag"`` for what each cell touches, in cell order, without repeats."""
    reviewer = _Reviewer()  # one for all cells: they share a namespace
    return list(dict.fromkeys(f"{label}: {flag}"
                              for label, source in cells for flag in reviewer.code(source)))


def _flags_for(name: str) -> list[str]:
    """The flags for a resolved dotted name such as ``os.kill`` or ``course.grade``."""
    parts = name.split(".")
    found = []
    if parts[0] == "course" and parts[1:2] != ["expr"] and name not in LEARNER_API:
        depth = 3 if parts[1:2] in (["check"], ["progress"]) else 2  # check.__globals__
        found.append(f"uses course internals ({'.'.join(parts[:depth])})")
    for flag, pattern in RULES:
        if match := pattern.match(name):
            found.append(flag.format(match[1]))
    return found


def _python_only(source: str) -> str:
    """Comment out IPython-only lines (magics, shell escapes), as grading does."""
    return re.sub(r"(?m)^(\s*)([%!])", r"\1# \2", source)


def _str(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _pos(node: ast.AST) -> tuple[int, ...]:
    """Where a node starts and ends: an inner ``a.f_back`` sorts before ``a.f_back.f_globals``."""
    return tuple(getattr(node, key, None) or 0
                 for key in ("lineno", "col_offset", "end_lineno", "end_col_offset"))


def _strip_builtins(name: str) -> str:
    """``exec`` for ``builtins.exec`` or ``__builtins__.exec``."""
    head, _, rest = name.partition(".")
    return rest if head in BUILTINS and rest else name


class _Reviewer:
    """Reads cells one after another, remembering what their names stand for."""

    def __init__(self):
        self.names: dict[str, str | None] = {}  # top-level name -> dotted name, None: data
        self.imported: set[str] = set()  # names bound by an import
        self.nested: set[str] = set()  # names bound inside functions, lambdas, comprehensions
        self.star: list[str] = []  # modules imported with *

    def code(self, source: str) -> list[str]:
        """The flags of one cell's (or exec'd string's) code, in source order."""
        source = _python_only(source)
        try:
            nodes = list(ast.walk(ast.parse(source)))
            self.bind(nodes)
            return [flag for _, flag in sorted(self.hits(nodes), key=lambda hit: hit[0])]
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return _scan_text(source, self.names)

    def resolve(self, name: str) -> str | None:
        """What a bare name stands for: ``os`` after ``import os``, None for data."""
        if name in self.names:
            return self.names[name]
        if name in self.nested:
            return None
        for module in self.star:
            if _flags_for(f"{module}.{name}"):
                return f"{module}.{name}"
        return name  # a builtin, or imported where we cannot see

    def bind(self, nodes: list[ast.AST]) -> None:
        """Record the cell's imports and top-level assignments, in source order.

        A name once bound to a module (or a name in one) stays bound to it, so that code
        cannot hide ``o.kill()`` by rebinding ``o`` afterwards.
        """
        scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
                  ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
        inside = {id(node) for scope in nodes if isinstance(scope, scopes)
                  for node in ast.walk(scope) if node is not scope}
        aliases = {id(node.targets[0]): node.value for node in nodes
                   if isinstance(node, ast.Assign) and len(node.targets) == 1}
        events = []  # (position, name, dotted name if imported, expression if assigned)
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    top = alias.name.partition(".")[0]
                    events.append((_pos(node), alias.asname or top,
                                   alias.name if alias.asname else top, None))
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name == "*":
                        self.star.append(node.module)
                    else:
                        events.append((_pos(node), alias.asname or alias.name,
                                       f"{node.module}.{alias.name}", None))
            elif id(node) in inside:  # a local name of a function: no module, mostly
                if isinstance(node, ast.arg):
                    self.nested.add(node.arg)
                elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                    self.nested.add(node.id)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                events.append((_pos(node), node.id, None, aliases.get(id(node))))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                events.append((_pos(node), node.name, None, None))
        for _, name, module, value in sorted(events, key=lambda event: event[0]):
            dotted = module or (self.dotted(value) if value is not None else None)
            if dotted or name not in self.names:  # `o = 0` after `o.kill()` does not hide it
                self.names[name] = dotted
            if module:
                self.imported.add(name)

    def attribute(self, node: ast.AST) -> tuple[ast.AST, str] | None:
        """``(base, name)`` for ``base.name`` and ``getattr(base, "name")``."""
        if isinstance(node, ast.Attribute):
            return node.value, node.attr
        if (isinstance(node, ast.Call) and len(node.args) >= 2 and _str(node.args[1])
                and self.builtin(node.func) == "getattr"):
            return node.args[0], node.args[1].value
        return None

    def dotted(self, node: ast.AST) -> str | None:
        """``os.path.join`` for ``o.path.join`` after ``import os as o``; None if unknown."""
        names = []
        while (attribute := self.attribute(node)) is not None:
            node, name = attribute
            names.append(name)
        if isinstance(node, ast.Name):
            root = self.resolve(node.id)
        elif isinstance(node, ast.Call) and node.args and self.builtin(node.func) in (
                "__import__", "importlib.import_module"):
            root = _str(node.args[0])
        elif isinstance(node, ast.Subscript) and self.dotted(node.value) == "sys.modules":
            root = _str(node.slice)
        else:
            root = None
        return None if root is None else ".".join([root, *reversed(names)])

    def builtin(self, node: ast.AST) -> str | None:
        name = self.dotted(node)
        return name and _strip_builtins(name)

    def hits(self, nodes: list[ast.AST]):
        """``(position, flag)`` for every node of the cell that touches something."""
        bases, calls = set(), {}
        for node in nodes:
            if (attribute := self.attribute(node)) is not None:
                bases.add(id(attribute[0]))  # part of a longer chain: look at the whole
            if isinstance(node, ast.Call):
                calls[id(node.func)] = node
        for node in nodes:
            for flag in self.flags(node, id(node) in bases, calls.get(id(node))):
                yield _pos(node), flag

    def flags(self, node: ast.AST, is_base: bool, call: ast.Call | None) -> list[str]:
        found = []
        if isinstance(node, ast.Import):
            found += [flag for alias in node.names for flag in _flags_for(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found += [flag for alias in node.names
                      for flag in _flags_for(f"{node.module}.{alias.name}")]
        if (attribute := self.attribute(node)) is not None and attribute[1] in FRAME_ATTRS:
            found.append(f"inspects frames (.{attribute[1]})")
        if isinstance(node, (ast.Attribute, ast.Subscript)) and not isinstance(node.ctx, ast.Load):
            found += self.patches(node.value, getattr(node, "attr", None))
        if (isinstance(node, ast.Call) and node.args
                and self.builtin(node.func) in ("setattr", "delattr")):
            attr = _str(node.args[1]) if len(node.args) > 1 else None
            found += self.patches(node.args[0], attr or "?")
        if not is_base and (name := self.dotted(node)) is not None:
            found += _flags_for(name) + self.dynamic(_strip_builtins(name), call)
        return found

    def patches(self, base: ast.AST, attr: str | None) -> list[str]:
        """Flags for assigning to (or deleting) ``base.attr``, or ``base[...]`` if no attr."""
        name = self.dotted(base)
        if name is None:
            return []
        what = f"{name}.{attr}" if attr else name
        if name.partition(".")[0] in BUILTINS:
            return [f"patches builtins ({what})"]
        root = base
        while (attribute := self.attribute(root)) is not None:
            root = attribute[0]
        imported = not isinstance(root, ast.Name) or root.id in self.imported  # or __import__
        if name == "sys.modules" or (attr and imported):
            return [f"patches imported code ({what})"]
        return []

    def dynamic(self, name: str, call: ast.Call | None) -> list[str]:
        """``exec(code)`` and friends: flag unless given a literal, then review the literal."""
        loads = name.startswith("importlib.") and not name.startswith(
            ("importlib.metadata.", "importlib.resources."))  # those only read package data
        if name not in DYNAMIC and not loads:
            return []
        literal = _str(call.args[0]) if call is not None and call.args else None
        if literal is None:
            return [f"builds code at run time ({name})"]
        if name in ("exec", "eval", "compile"):
            return self.code(literal)
        return _flags_for(literal)  # __import__("ctypes"), importlib.import_module("gc")


_TEXT_IMPORT = re.compile(r"\b(?:from\s+([\w.]+)\s+)?import\s+\(?\s*"
                          r"([\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*)")
_TEXT_CHAIN = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)+")
_TEXT_FRAME = re.compile(rf"\.\s*({'|'.join(FRAME_ATTRS)})\b")
_TEXT_DYNAMIC = re.compile(r"(?<![\w.])(exec|eval|compile|__import__|importlib\s*\.\s*\w+)"
                           r"\s*\(\s*(?![\"'])")
_TEXT_PATCH = re.compile(r"(?<![\w.])(builtins|__builtins__)\s*(?:\.\s*\w+|\[[^\]\n]*\])\s*=(?!=)")


def _scan_text(source: str, names: dict[str, str | None]) -> list[str]:
    """Flags for a cell that does not parse, from regular expressions on its text."""
    text = re.sub(r"(?m)^\s*#.*$", "", source)
    names = {name: dotted for name, dotted in names.items() if dotted}
    hits = []
    for match in _TEXT_IMPORT.finditer(text):
        for item in match[2].split(","):
            name, alias = (re.split(r"\s+as\s+", item.strip()) + [""])[:2]
            full = f"{match[1]}.{name}" if match[1] else name
            if alias or match[1]:
                names[alias or name] = full
            hits += [(match.start(), flag) for flag in _flags_for(full)]
    for match in _TEXT_CHAIN.finditer(text):
        root, _, rest = _squeeze(match[0]).partition(".")
        hits += [(match.start(), flag) for flag in _flags_for(f"{names.get(root, root)}.{rest}")]
    hits += [(m.start(), f"inspects frames (.{m[1]})") for m in _TEXT_FRAME.finditer(text)]
    hits += [(m.start(), f"builds code at run time ({_squeeze(m[1])})")
             for m in _TEXT_DYNAMIC.finditer(text)]
    hits += [(m.start(), f"patches builtins ({m[1]})") for m in _TEXT_PATCH.finditer(text)]
    return [flag for _, flag in sorted(hits, key=lambda hit: hit[0])]


def _squeeze(text: str) -> str:
    """``os.kill`` for ``os . kill``."""
    return re.sub(r"\s+", "", text)
