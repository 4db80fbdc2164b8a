"""Accessibility checks for the browser tests: axe-core, sideways scrolling, visible focus.

axe-core is vendored as ``axe.min.js`` beside this file: the npm package's own
minified build, pinned to ``AXE_VERSION`` and checked against the SRI hash the
package publishes for it (``sri-history.json``), so the check runs the same
everywhere without a network step. It is MPL-2.0; its header stays. To move to
another version: ``npm pack axe-core@X.Y.Z``, copy ``package/axe.min.js`` here,
and take its version and hash from ``package/sri-history.json``.

The script is added to a browser context with ``add_init_script``: it runs in
every page before the page's own, through the DevTools protocol, so the pages'
strict Content-Security-Policy stays on while they are checked.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from pathlib import Path
from typing import Any

AXE_FILE = Path(__file__).with_name("axe.min.js")
AXE_VERSION = "4.14.1"
AXE_SRI = "sha256-KTSJmUUM3yhJqOcLeRL8LahahJ2jnA0NU5T1HUqe2Vw="
"""The integrity hash npm's axe-core 4.14.1 publishes for ``axe.min.js``."""

WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
"""WCAG 2.1 levels A and AA: what public services in France and Belgium must meet."""

NARROW = {"width": 320, "height": 640}
"""WCAG 1.4.10 (reflow): content fits 320 CSS pixels without scrolling sideways."""


@cache
def axe_source() -> str:
    """The pinned axe-core, refused if the file is not the published one."""
    data = AXE_FILE.read_bytes()
    digest = "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode()
    if digest != AXE_SRI:
        raise AssertionError(f"{AXE_FILE.name} is not axe-core {AXE_VERSION} ({digest})")
    return data.decode("utf-8")


def with_axe(context: Any) -> Any:
    """The browser context, with axe-core loaded into each page it opens."""
    context.add_init_script(script=axe_source())
    return context


_RUN_AXE = """async (tags) => {
  const result = await window.axe.run(document, {
    runOnly: {type: "tag", values: tags},
    resultTypes: ["violations"],
  });
  return {
    version: window.axe.version,
    violations: result.violations.map((v) => ({
      id: v.id,
      help: v.help,
      nodes: v.nodes.map(
        (n) => n.target.join(" ") + " (" + n.failureSummary.replace(/\\s+/g, " ") + ")"
      ),
    })),
  };
}"""


def axe_violations(page: Any) -> list[str]:
    """WCAG 2.1 A and AA violations axe-core finds on the page, one line per rule."""
    found = page.evaluate(_RUN_AXE, list(WCAG_TAGS))
    assert found["version"] == AXE_VERSION
    return [f"{v['id']}: {v['help']} at {'; '.join(v['nodes'][:5])}" for v in found["violations"]]


def sideways_scroll(page: Any, viewport: dict[str, int] = NARROW) -> int:
    """How many pixels the page is wider than the viewport (0 when it reflows)."""
    page.set_viewport_size(viewport)
    width = int(page.evaluate("document.documentElement.scrollWidth"))
    return max(0, width - viewport["width"])


_FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) {
    return null;
  }
  if (!window.__focusSeen) {
    window.__focusSeen = new WeakMap();
    window.__focusCount = 0;
  }
  let seen = window.__focusSeen.get(el);
  const again = seen !== undefined;
  if (!again) {
    seen = window.__focusCount++;
    window.__focusSeen.set(el, seen);
  }
  const text = (el.getAttribute("aria-label") || el.innerText || el.value || "").trim();
  const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.getAttribute("name") ? "[name=" + el.getAttribute("name") + "]" : "")
    + (text ? " \\"" + text.slice(0, 40).replace(/\\s+/g, " ") + "\\"" : "");
  // A part of the field's own (the picker of a date or time field) has the focus.
  const part = !el.matches(":focus") && el.matches(":focus-within") ? " (its picker button)" : "";
  const problems = [];
  if (!el.checkVisibility({visibilityProperty: true, opacityProperty: true})) {
    problems.push("hidden");
  }
  const look = getComputedStyle(el);
  const outlined = look.outlineStyle !== "none" && parseFloat(look.outlineWidth) >= 2;
  if (!outlined && look.boxShadow === "none") {
    problems.push("no focus ring");
  }
  const own = el.getBoundingClientRect();
  if (own.width < 1 || own.height < 1) {
    problems.push("zero size");
  }
  let box = {left: own.left, top: own.top, right: own.right, bottom: own.bottom};
  const cut = (r) => {
    box = {
      left: Math.max(box.left, r.left), top: Math.max(box.top, r.top),
      right: Math.min(box.right, r.right), bottom: Math.min(box.bottom, r.bottom),
    };
  };
  for (let node = el; node && node !== document.documentElement; node = node.parentElement) {
    const style = getComputedStyle(node);
    const rect = node.getBoundingClientRect();
    if (style.clipPath && style.clipPath !== "none") {
      problems.push("clip-path on " + node.tagName.toLowerCase());
    }
    const clip = /^rect\\((.*)\\)$/.exec(style.clip || "");
    if (clip && (style.position === "absolute" || style.position === "fixed")) {
      const [top, right, bottom, left] = clip[1].split(/[ ,]+/);
      const at = (value, fallback) => value === "auto" ? fallback : parseFloat(value);
      cut({
        left: rect.left + at(left, 0), top: rect.top + at(top, 0),
        right: rect.left + at(right, rect.width), bottom: rect.top + at(bottom, rect.height),
      });
    }
    if (node !== el && style.overflowX !== "visible") {
      cut({left: rect.left, top: -Infinity, right: rect.right, bottom: Infinity});
    }
    if (node !== el && style.overflowY !== "visible") {
      cut({left: -Infinity, top: rect.top, right: Infinity, bottom: rect.bottom});
    }
  }
  const width = box.right - box.left;
  const height = box.bottom - box.top;
  if (width < 2 || height < 2) {
    problems.push("clipped to " + Math.max(0, Math.round(width)) + "x"
      + Math.max(0, Math.round(height)) + " px");
  }
  const page = {x: box.right + window.scrollX, y: box.bottom + window.scrollY};
  if (page.x <= 0 || page.y <= 0) {
    problems.push("off the page");
  }
  return {index: seen, again: again, name: name + part, problems: problems};
}"""


def invisible_focus_stops(page: Any, limit: int = 800) -> list[str]:
    """Tab from the top of the page round to the start: every stop a person cannot see.

    A stop is invisible when it is hidden, has no size, or is clipped (by a
    ``clip``, a ``clip-path`` or an ancestor's overflow) to less than 2x2 px;
    and it must show the pages' focus ring (an outline of 2 px or more, or a
    shadow), not a browser's thin default.
    """
    page.evaluate(
        "() => { window.__focusSeen = undefined; document.activeElement?.blur(); "
        "window.scrollTo(0, 0); }"
    )
    invisible: list[str] = []
    seen: set[str] = set()
    stops = 0
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUSED)
        if focused is None:
            if stops:
                break
            continue
        if focused["again"] and focused["index"] == 0:
            break
        stops += 1
        # A date or time field is several stops (its parts, its picker) on one element.
        problem = f"{focused['name']}: {', '.join(focused['problems'])}"
        if focused["problems"] and problem not in seen:
            seen.add(problem)
            invisible.append(f"stop {stops}: {problem}")
    else:
        raise AssertionError(f"Tab never came back to the start after {limit} stops")
    assert stops > 0, "Tab reached nothing on the page"
    return invisible
