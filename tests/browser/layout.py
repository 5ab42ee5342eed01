"""Layout checks for widget outputs in JupyterLab: fit, cut-off text, gaps, contrast.

``problems(area)`` runs in the page on one output area (a Playwright locator of a
``.jp-OutputArea-output``) and returns what is wrong with its layout, as readable
strings; an empty list means it fits. The rules:

* overflow: every rendered element inside the area lies within the area's left and
  right edges (1 px of rounding allowed). Inside an intended scroll container (one
  matching ``SCROLLERS``: adlab marks the boxes it lets scroll sideways) only the
  container itself has to fit. Other boxes that would scroll do not count: every
  ipywidgets Box is ``overflow: auto``, and a widget that needs its scroll bar to
  show its content does not fit its column;
* cut off: no element with text of its own has content wider than its content box
  (its text cut off with an ellipsis, like "m outp...", or spilling over its
  neighbours), unless it is such a scroll container. The content is measured with a
  Range, to the sub-pixel: ``scrollWidth`` is rounded and misses a cut of 1 px;
* table gaps: in every table row, the text of one cell ends at least 8 px (two
  spaces) before the text of the next begins: columns never read as one phrase, as
  "1 recording + 2 VJPs  32" did with 4 px;
* contrast (``contrast=True``): every piece of text, HTML or SVG, has a luminance
  contrast of at least 3 (WCAG's floor for large text and controls) against what is
  painted behind it, found with ``document.elementsFromPoint``.

``set_theme`` and ``set_width`` switch JupyterLab's theme and the window's width, and
wait until the page shows the change.
"""

from __future__ import annotations

MIN_CONTRAST = 3.0
# boxes meant to scroll sideways when their content is wider than the column
SCROLLERS = ".adlab-scroll-x, .adlab-graph-svg"
MIN_GAP_PX = 8

LIGHT = "JupyterLab Light"
DARK = "JupyterLab Dark"

_PROBLEMS_JS = r"""
(area, opts) => {
  const TOL = 1;
  const A = area.getBoundingClientRect();
  const out = [];
  const describe = (el) => {
    const cls = (el.getAttribute('class') || '').split(/\s+/)
      .filter(c => c.startsWith('adlab-') || c.startsWith('widget-')).slice(0, 2);
    const text = (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40);
    return el.tagName.toLowerCase() + (cls.length ? '.' + cls.join('.') : '')
      + (text ? ` "${text}"` : '');
  };
  const shown = (el) => {
    const cs = getComputedStyle(el);
    if (cs.display === 'none' || cs.visibility === 'hidden') return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 || r.height > 0;
  };
  const scrolls = (el) => el.matches(opts.scrollers)
    && ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const ownText = (el) => Array.from(el.childNodes)
    .some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== '');

  const contentBox = (el) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    return range.getBoundingClientRect();
  };

  // overflow and cut-off text, element by element
  const texts = [];
  // exempt: inside an intended scroll container, or inside an element already
  // reported as overflowing (its children overflow with it: one report is enough)
  const walk = (el, exempt) => {
    for (const child of el.children) {
      if (!shown(child)) continue;
      const r = child.getBoundingClientRect();
      let overflows = false;
      if (!exempt) {
        if (r.right > A.right + TOL) {
          overflows = true;
          out.push(`overflow: ${describe(child)} ends ${(r.right - A.right).toFixed(0)} px `
                   + `right of the output area`);
        }
        if (r.left < A.left - TOL) {
          overflows = true;
          out.push(`overflow: ${describe(child)} starts ${(A.left - r.left).toFixed(0)} px `
                   + `left of the output area`);
        }
      }
      const isSvg = child instanceof SVGElement;
      if (ownText(child)) {
        texts.push(child);
        if (!isSvg && child.clientWidth > 0 && !scrolls(child)) {
          const cs = getComputedStyle(child);
          const room = child.clientWidth - parseFloat(cs.paddingLeft)
            - parseFloat(cs.paddingRight);
          const need = Math.max(contentBox(child).width,
                                child.scrollWidth - (child.clientWidth - room));
          if (need > room + 0.5)
            out.push(`cut off: ${describe(child)} needs ${need.toFixed(1)} px, `
                     + `has ${room.toFixed(1)} px`);
        }
      }
      walk(child, exempt || overflows || (!isSvg && scrolls(child)));
    }
  };
  walk(area, false);

  // table columns keep a gap
  const textBox = contentBox;
  for (const row of area.querySelectorAll('tr')) {
    const cells = Array.from(row.cells).filter(c => c.textContent.trim() !== '' && shown(c));
    for (let i = 1; i < cells.length; i++) {
      const a = textBox(cells[i - 1]), b = textBox(cells[i]);
      if (a.bottom <= b.top || b.bottom <= a.top) continue;  // on different lines
      const gap = b.left - a.right;
      if (gap < opts.minGap)
        out.push(`table columns touch: ${describe(cells[i - 1])} and ${describe(cells[i])} `
                 + `are ${gap.toFixed(0)} px apart`);
    }
  }

  if (!opts.contrast) return out;

  // contrast of every text against what is painted behind it
  const parse = (c) => {
    if (!c || c === 'none' || c === 'transparent') return null;
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const v = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return {r: v[0], g: v[1], b: v[2], a: v.length > 3 ? v[3] : 1};
  };
  const over = (top, bottom) => ({  // top composited over an opaque bottom
    r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a), a: 1});
  const lum = (c) => {
    const f = (x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const hex = (c) => '#' + [c.r, c.g, c.b]
    .map(x => Math.round(x).toString(16).padStart(2, '0')).join('');
  const SHAPES = ['rect', 'path', 'polygon', 'ellipse', 'circle', 'polyline'];
  // what is under the start of el's text, top first; null when el is not visible
  // there (scrolled out of a scroll container or the window: it is scrolled into view
  // once, and skipped if still hidden, e.g. covered by something else)
  const stack = (el, retry = true) => {
    const r = el.getClientRects()[0] || el.getBoundingClientRect();  // its first line
    const x = r.left + Math.min(r.width / 2, 8), y = r.top + r.height / 2;
    const hits = document.elementsFromPoint(x, y);
    if (hits.includes(el)) return hits;
    if (!retry) return null;
    el.scrollIntoView({block: 'center', inline: 'center'});
    return stack(el, false);
  };
  const background = (hits) => {
    const layers = [];
    for (const e of hits) {
      if (e instanceof SVGElement && !(e instanceof SVGSVGElement)) {
        if (!SHAPES.includes(e.tagName)) continue;  // text, groups, links
        const c = parse(getComputedStyle(e).fill);
        if (c && c.a > 0) layers.push(c);
      } else {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c && c.a > 0) layers.push(c);
      }
      if (layers.length && layers[layers.length - 1].a >= 1) break;
    }
    let bg = {r: 255, g: 255, b: 255, a: 1};
    for (const c of layers.reverse()) bg = over(c, bg);
    return bg;
  };
  for (const el of texts) {
    const cs = getComputedStyle(el);
    const fg = parse(el instanceof SVGElement ? cs.fill : cs.color);
    if (!fg || fg.a === 0) continue;
    const hits = stack(el);
    if (!hits) continue;
    const bg = background(hits);
    const ink = over(fg, bg);
    const [hi, lo] = [lum(ink), lum(bg)].sort((p, q) => q - p);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < opts.minContrast)
      out.push(`low contrast ${ratio.toFixed(2)}: ${describe(el)} is ${hex(ink)} `
               + `on ${hex(bg)}`);
  }
  return out;
}
"""

_THEME_JS = """
async (name) => {
  await window.jupyterapp.commands.execute('apputils:change-theme', {theme: name});
}
"""

# JS: true once theme ``name`` is JupyterLab's, its stylesheet is in force (the
# notebook's background is light for a light theme, dark for a dark one) and the
# splash screen JupyterLab shows while it switches has faded out (it would cover the
# widgets in the screenshots and stand behind their text in the contrast check).
_THEME_SHOWN_JS = """
(name) => {
  const body = document.body.dataset, nb = document.querySelector('.jp-Notebook');
  if (body.jpThemeName !== name || !nb) return false;
  if (document.getElementById('jupyterlab-splash')) return false;
  const rgb = getComputedStyle(nb).backgroundColor.match(/[\\d.]+/g).map(Number);
  const light = (rgb[0] + rgb[1] + rgb[2]) / 3 > 128;
  return String(light) === body.jpThemeLight;
}
"""


def problems(area, contrast: bool = True) -> list[str]:
    """What is wrong with the layout of the output area ``area`` (see the module doc)."""
    return area.evaluate(_PROBLEMS_JS, {"minGap": MIN_GAP_PX, "minContrast": MIN_CONTRAST,
                                        "contrast": contrast, "scrollers": SCROLLERS})


def set_theme(page, name: str, timeout_ms: int = 20_000) -> None:
    """Switch JupyterLab to theme ``name`` (a user setting: switch back when done)."""
    page.evaluate(_THEME_JS, name)
    page.wait_for_function(_THEME_SHOWN_JS, arg=name, timeout=timeout_ms, polling=100)


def set_width(page, width: int, area, timeout_ms: int = 20_000) -> None:
    """Resize the window to ``width`` px and wait until JupyterLab has laid out
    ``area`` (an output area) again: its width changes with the window's."""
    size = page.viewport_size or {"width": 0, "height": 1000}
    if size["width"] == width:
        return
    before = area.evaluate("el => el.getBoundingClientRect().width")
    page.set_viewport_size({"width": width, "height": size["height"]})
    page.wait_for_function(
        "([el, before, w]) => { const r = el.getBoundingClientRect();"
        "  return r.width !== before && r.right <= w; }",
        arg=[area.element_handle(), before, width], timeout=timeout_ms, polling=100)
