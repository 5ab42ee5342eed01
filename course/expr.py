r"""A tiny expression tree, the first reverse-mode engine many people write.

Five node types: a :class:`Variable` is a leaf with a name and a value; :class:`Plus`,
:class:`Minus` and :class:`Multiply` have two children, ``a`` and ``b``, and are built by
``+``, ``-`` and ``*``; :class:`Sin` has one child, ``a``, and is built by :func:`sin`
(or the method ``e.sin()``). Every node has ``evaluate()``, which computes its value
afresh from the variables below it, and prints as the formula it stands for.

>>> x, y = Variable("x", 2.0), Variable("y", 3.0)
>>> z = x * (x + y) + y * y
>>> z
x * (x + y) + y * y
>>> z.evaluate()
19.0
>>> x - sin(x * y)
x - sin(x * y)

Notebook 04 asks for a recursive ``derive(expr, seed, adjoints)`` over these classes;
which local partial each node type hands to its children is for the learner to work
out from the chain rule, so this module does not say.

The same object may appear several times in a tree (``x`` above, or a shared
subexpression), so the "tree" is really a graph. A recursive ``derive`` still gets the
right numbers, but it walks every path separately and re-evaluates shared parts on the
way: its cost grows with the number of paths, which a tape in topological order avoids.
"""

from __future__ import annotations

import math


class Expression:
    """Base class: ``+``, ``-`` and ``*`` build :class:`Plus`, :class:`Minus` and
    :class:`Multiply` nodes, ``e.sin()`` a :class:`Sin` node."""

    # binding strength, for printing with the fewest parentheses
    precedence = 3
    associative = True  # whether a right operand of equal strength may go unbracketed

    def evaluate(self) -> float:
        """The value of this expression (computed afresh from the variables)."""
        raise NotImplementedError  # abstract: each subclass defines it

    def __add__(self, other: Expression) -> Plus:
        return Plus(self, other)

    def __sub__(self, other: Expression) -> Minus:
        return Minus(self, other)

    def __mul__(self, other: Expression) -> Multiply:
        return Multiply(self, other)

    def sin(self) -> Sin:
        """``sin(self)`` as a :class:`Sin` node."""
        return Sin(self)

    def _wrap(self, child: Expression, right: bool = False) -> str:
        # a right operand of the same strength needs parentheses when the operation is
        # not associative: x - (y + z), x - (y - z)
        text = repr(child)
        tighter = child.precedence < self.precedence or (
            right and not self.associative and child.precedence == self.precedence)
        return f"({text})" if tighter else text


class Variable(Expression):
    """A named input with a value: a leaf of the tree."""

    def __init__(self, name: str, value: float):
        self.name = name
        self.value = float(value)

    def evaluate(self) -> float:
        return self.value

    def __repr__(self) -> str:
        return self.name


class Plus(Expression):
    """``a + b``, built by ``+``; its children are ``a`` and ``b``."""

    precedence = 1

    def __init__(self, a: Expression, b: Expression):
        self.a, self.b = a, b

    def evaluate(self) -> float:
        return self.a.evaluate() + self.b.evaluate()

    def __repr__(self) -> str:
        return f"{self._wrap(self.a)} + {self._wrap(self.b, right=True)}"


class Minus(Expression):
    """``a - b``, built by ``-``; its children are ``a`` and ``b``."""

    precedence = 1
    associative = False

    def __init__(self, a: Expression, b: Expression):
        self.a, self.b = a, b

    def evaluate(self) -> float:
        return self.a.evaluate() - self.b.evaluate()

    def __repr__(self) -> str:
        return f"{self._wrap(self.a)} - {self._wrap(self.b, right=True)}"


class Multiply(Expression):
    """``a * b``, built by ``*``; its children are ``a`` and ``b``."""

    precedence = 2

    def __init__(self, a: Expression, b: Expression):
        self.a, self.b = a, b

    def evaluate(self) -> float:
        return self.a.evaluate() * self.b.evaluate()

    def __repr__(self) -> str:
        return f"{self._wrap(self.a)} * {self._wrap(self.b, right=True)}"


class Sin(Expression):
    """``sin(a)``, built by :func:`sin` or ``a.sin()``; its one child is ``a``."""

    def __init__(self, a: Expression):
        self.a = a

    def evaluate(self) -> float:
        return math.sin(self.a.evaluate())

    def __repr__(self) -> str:
        return f"sin({self.a!r})"


def sin(a: Expression) -> Sin:
    """The sine of an expression, as a :class:`Sin` node."""
    return Sin(a)


def _children(node: Expression) -> tuple[Expression, ...]:
    """The children of a node, left to right: none for a Variable, one for a Sin."""
    if isinstance(node, (Plus, Minus, Multiply)):
        return (node.a, node.b)
    if isinstance(node, Sin):
        return (node.a,)
    return ()


def variables(expr: Expression) -> dict[str, float]:
    """The variables of ``expr`` by name, with their values (each shared node once)."""
    found: dict[str, float] = {}
    seen: set[int] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, Variable):
            found[node.name] = node.value
        stack += reversed(_children(node))
    return dict(sorted(found.items()))
