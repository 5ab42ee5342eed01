r"""A tiny expression tree, the first reverse-mode engine many people write.

Notebook 04 asks for a recursive ``derive(expr, seed, adjoints)`` over these classes:
at a sum the seed goes unchanged into both children (:math:`\partial(a+b)/\partial a
= 1`), at a product each child gets the seed times the *other* child's value
(:math:`\partial(ab)/\partial a = b`), and at a variable the seed is *added* to the
variable's adjoint, because a variable used in several places receives the sum of the
contributions of all its uses.

>>> x, y = Variable("x", 2.0), Variable("y", 3.0)
>>> z = x * (x + y) + y * y
>>> z
x * (x + y) + y * y
>>> z.evaluate()
19.0

The same object may appear several times in a tree (``x`` above, or a shared
subexpression), so the "tree" is really a graph. A recursive ``derive`` still gets the
right numbers, but it walks every path separately and re-evaluates shared parts on the
way: its cost grows with the number of paths, which a tape in topological order avoids.
"""

from __future__ import annotations


class Expression:
    """Base class: ``+`` and ``*`` build :class:`Plus` and :class:`Multiply` nodes."""

    # binding strength, for printing with the fewest parentheses
    precedence = 3

    def evaluate(self) -> float:
        """The value of this expression (computed afresh from the variables)."""
        raise NotImplementedError  # abstract: each subclass defines it

    def __add__(self, other: Expression) -> Plus:
        return Plus(self, other)

    def __mul__(self, other: Expression) -> Multiply:
        return Multiply(self, other)

    def _wrap(self, child: Expression) -> str:
        text = repr(child)
        return f"({text})" if child.precedence < self.precedence else text


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
    r"""``a + b``; both local partials are 1: :math:`\bar a \mathrel{+}= \bar z`."""

    precedence = 1

    def __init__(self, a: Expression, b: Expression):
        self.a, self.b = a, b

    def evaluate(self) -> float:
        return self.a.evaluate() + self.b.evaluate()

    def __repr__(self) -> str:
        return f"{self._wrap(self.a)} + {self._wrap(self.b)}"


class Multiply(Expression):
    r"""``a * b``; the partials are the sibling's values: :math:`\bar a \mathrel{+}= \bar z\,b`."""

    precedence = 2

    def __init__(self, a: Expression, b: Expression):
        self.a, self.b = a, b

    def evaluate(self) -> float:
        return self.a.evaluate() * self.b.evaluate()

    def __repr__(self) -> str:
        return f"{self._wrap(self.a)} * {self._wrap(self.b)}"


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
        elif isinstance(node, (Plus, Multiply)):
            stack += [node.b, node.a]
    return dict(sorted(found.items()))
