"""The HTML of an explanation (explain.py): one self-contained page, its CSS, script and SVG inline,
so it opens from a file, is mailed as one attachment and reads nothing from the network.

The page's script only links lines: hovering a line of the user's code or of the generated code
lights up both (the user's line and every generated line that comes from it), a click pins the
pair (and puts it in the address, `#line-0:4`, so a link can point at it). Everything else is
plain HTML, readable with scripts off. When the links are wired the script sets
`document.body.dataset.ready = "yes"` (tests in a browser wait for it).
"""
from __future__ import annotations

import html
import os

import numpy as np

from . import picture as pic

SECTIONS = (("code", "Code"), ("generated", "Generated"), ("check", "Check"), ("unused", "Unused inputs"),
            ("picture", "Picture"), ("formula", "Formula"), ("ir", "IR"), ("timing", "Timing"))


def render(ex):
    """The page (text) for an Explanation."""
    index = {s.name: i for i, s in enumerate(ex.sources)}
    shown = {(i, n) for i, s in enumerate(ex.sources) for n in range(s.start, s.start + len(s.lines))}
    linked = {_key(k, index) for k in ex.keys()} & {f"{i}:{n}" for i, n in shown}
    at = ", ".join(f"{n} = {pic.number(v)}" for n, v in ex.arguments)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(ex.name)}: its gradient at {_e(at)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        '<body data-ready="no">',
        _header(ex, at),
        "<main>",
        '<div class="overview">',
        *_code_sections(ex, index, linked),
        _check_section(ex),
        _unused_section(ex),
        "</div>",
        _picture_section(ex),
        _formula_section(ex),
        _ir_section(ex),
        _timing_section(ex),
        "</main>",
        '<footer>Made by <code>python -m compiler explain</code> (sourcead). One file: no network, '
        "no other files.</footer>",
        f"<script>{SCRIPT}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _e(text):
    return html.escape(str(text), quote=True)


def _key(key, index):
    """A (function, line) link key as the page spells it: `0:4`, the function by its position."""
    name, line = key
    return f"{index[name]}:{line}" if name in index else None


def _header(ex, at):
    grads = " ".join(f'<span class="grad">d{_e(ex.name)}/d{_e(n)} = {_e(pic.number(g))}</span>'
                     for n, g in ex.gradients)
    verdict = ('<span class="pass">gradient check passed</span>' if ex.check_passed
               else '<span class="fail">gradient check FAILED</span>' if ex.check_note is None
               else '<span class="fail">not checked</span>')
    nav = " ".join(f'<a href="#{sid}">{_e(title)}</a>' for sid, title in SECTIONS)
    return (f'<header><h1>The gradient of <code>{_e(ex.name)}</code> at {_e(at)}</h1>'
            f'<p class="lead"><span class="value">{_e(ex.name)} = {_e(pic.number(ex.value))}'
            f"</span> {grads} {verdict}</p><nav>{nav}</nav></header>")


def _code_sections(ex, index, linked):
    """The user's code and the generated code: two sections, their lines linked by key."""
    user = []
    for i, s in enumerate(ex.sources):
        where = _shown_path(s.filename)
        title = f"{s.name}, {where}" if i == 0 else f"{s.name} (called, inlined), {where}"
        rows = []
        for n, text in enumerate(s.lines, start=s.start):
            key = f"{i}:{n}"
            attrs = f'class="line" data-key="{key}"' if key in linked else 'class="line plain"'
            rows.append(f'<div {attrs} id="L{i}-{n}"><span class="no">{n}</span>'
                        f'<span class="src">{_e(text) or " "}</span></div>')
        user.append(f'<div class="pane-head">{_e(title)}</div>'
                    f'<div class="code" id="user-code-{i}">{"".join(rows)}</div>')
    gen = []
    for line in ex.generated:
        key = _key(line.key, index) if line.key else None
        if key not in linked:
            key = None
        classes = ["line"]
        if key:
            classes.append("fwd" if line.phase == "forward" else "bwd")
        if line.marker:
            classes.append("marker")
        gutter = (f'<a class="no" href="#L{key.replace(":", "-")}">{key.split(":")[1]}</a>'
                  if key and line.marker else '<span class="no"></span>')
        data = f' data-key="{key}" data-phase="{line.phase}"' if key else ""
        gen.append(f'<div class="{" ".join(classes)}"{data}>{gutter}'
                   f'<span class="src">{_e(line.text) or " "}</span></div>')
    return (
        '<section id="code"><h2>Your code</h2>'
        '<p class="hint">Each block of the generated code comes from one line of yours (its '
        '<span class="fwd-text">forward</span> computation, or the '
        '<span class="bwd-text">gradient</span> of it): hover a line to see the pair, click to '
        f'keep it lit.</p><div class="pane" id="user-pane">{"".join(user)}</div></section>',
        '<section id="generated"><h2>The code that computes its gradient</h2>'
        f'<div class="pane" id="generated-pane"><div class="pane-head">{_e(ex.func_name)}: the '
        f"version that runs for {_e(ex.signature)}</div>"
        f'<div class="code" id="generated-code">{"".join(gen)}</div>{_returns(ex)}</div>'
        "</section>")


def _shown_path(filename):
    """A file's path as the reader knows it: relative to the current folder when inside it."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive (Windows)
        return filename
    return filename if relative.startswith(os.pardir) else relative


def _returns(ex):
    """The generated function's last line, read out: which returned expression is what."""
    if not ex.returns:
        return ""
    folded = ""
    if not any(line.phase == "gradient" for line in ex.generated):
        folded = (" <span class=\"note\">(no line of its own computes a gradient here: each is a "
                  "value the forward code already has, as the reverse pass found them)</span>")
    items = "".join(f"<li><code>{_e(what)}</code> = <code>{_e(expr)}</code></li>"
                    for what, expr in ex.returns)
    return f'<div class="returns">It returns: <ul>{items}</ul>{folded}</div>'


def _check_section(ex):
    rows = []
    for r in ex.check:
        ok = '<td class="pass">yes</td>' if r.passed else '<td class="fail">NO</td>'
        rows.append(f"<tr><td><code>{_e(r.argument)}</code></td><td>{_e(_exact(r.compiled))}</td>"
                    f"<td>{_e(_exact(r.numerical))}</td><td>{r.abs_error:.1e}</td>"
                    f"<td>{r.rel_error:.1e}</td>{ok}</tr>")
    if ex.check_note is not None:
        return ('<section id="check" class="card"><h2>Checked against central differences</h2>'
                f'<p class="missing">{_e(ex.check_note)}</p></section>')
    verdict = "Every gradient matches." if ex.check_passed else \
        "Some gradients do not match: read the generated code of their lines."
    return ('<section id="check" class="card"><h2>Checked against central differences</h2>'
            '<table class="numbers"><thead><tr><th>argument</th><th>compiled</th>'
            "<th>numerical</th><th>abs error</th><th>rel error</th><th>passes</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            f'<p class="note">{verdict} Numerical: (f(x + h) - f(x - h)) / 2h with h = '
            "cbrt(eps) max(1, |x|); an argument passes when |compiled - numerical| &le; 1e-6 + "
            "1e-5 |numerical|.</p></section>")


def _exact(v):
    if np.ndim(v) == 0:
        return f"{float(v):.15g}"
    return pic.number(np.asarray(v))


def _unused_section(ex):
    if not ex.unused:
        body = "<p>Every input reaches the output.</p>"
    else:
        items = []
        for u in ex.unused:
            if u.why == "no path":
                why = ("no path leads from it to the output in the function's graph: its "
                       "gradient is 0 whatever the values")
            else:
                why = ("it reaches the output only through comparisons, branch tests, loop bounds "
                       "or rounding, which carry no gradient: the gradient graph returns the "
                       "constant 0 for it")
            note = "" if u.differentiated else " (not differentiated)"
            items.append(f'<li data-input="{_e(u.name)}"><code>{_e(u.name)}</code>{note}: '
                         f"{why}.</li>")
        body = f'<ul class="unused">{"".join(items)}</ul>'
    return ('<section id="unused" class="card"><h2>Inputs that never reach the output</h2>'
            f"{body}<p class=\"note\">Read from the graph, not from the numbers: an input listed "
            "here has a zero gradient at every point.</p></section>")


def _picture_section(ex):
    if ex.svg is not None:
        body = f'<div class="picture">{ex.svg}</div>'
    else:
        body = f'<p class="missing">{_e(ex.picture_note)}</p>'
    return ('<section id="picture"><h2>The circuit, with its values and gradients</h2>'
            '<p class="hint">Values flow forward above the wires (green); gradients flow back '
            f"below them (red).</p>{body}</section>")


def _formula_section(ex):
    body = f'<pre class="formula">{_e(ex.formula)}</pre>' if ex.formula is not None else \
        f'<p class="missing">{_e(ex.formula_note)}</p>'
    return f'<section id="formula"><h2>The gradient as a formula</h2>{body}</section>'


def _ir_section(ex):
    return ('<section id="ir"><h2>The intermediate representation</h2><div class="columns">'
            '<div class="pane"><div class="pane-head">the function\'s graph, from its source</div>'
            f'<pre class="ir" id="primal-ir">{_e(ex.primal_ir)}</pre></div>'
            '<div class="pane"><div class="pane-head">the gradient\'s graph, optimised, the '
            f'version for {_e(ex.signature)} is made from</div><pre class="ir" id="gradient-ir">{_e(ex.gradient_ir)}</pre>'
            "</div></div></section>")


def _timing_section(ex):
    t = ex.timing
    ratio = f"{t.gradient / t.primal:.1f}" if t.primal > 0 else "-"
    rows = [("decorating: <code>value_and_grad(f)</code>, the whole pipeline once",
             _seconds(t.decoration)),
            ("the first call (builds the version for these argument types)",
             _seconds(t.first_call)),
            (f"a call of the gradient (value and gradient), median over {t.gradient_samples} "
             "calls", _seconds(t.gradient)),
            (f"a call of <code>{_e(ex.name)}</code> itself, median over {t.primal_samples} calls",
             _seconds(t.primal)),
            ("gradient / function", ratio)]
    body = "".join(f"<tr><td>{what}</td><td class=\"num\">{value}</td></tr>" for what, value in rows)
    return ('<section id="timing"><h2>What it costs</h2><table class="timing">'
            f'<tbody>{body}</tbody></table><p class="note">Measured once, on this machine, when '
            "the page was made.</p></section>")


def _seconds(s):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


CSS = """
:root { --fwd: #1565c0; --fwd-bg: #e3f2fd; --bwd: #c62828; --bwd-bg: #ffebee;
        --hi: #fff59d; --pin: #ffe082; --muted: #757575; --line: #e0e0e0; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial,
       sans-serif; color: #212121; background: #fafafa; }
header { padding: 14px 24px 8px; background: white; border-bottom: 1px solid var(--line); }
h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; }
h2 { margin: 0 0 8px; font-size: 17px; font-weight: 600; }
h1 code { font-size: inherit; }
code, .code, pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }
.lead { margin: 4px 0; font-size: 16px; }
.lead > span { margin-right: 14px; white-space: nowrap; }
.lead .value { color: #2e7d32; font-weight: 600; }
.lead .grad { color: var(--bwd); font-weight: 600; }
nav a { margin-right: 12px; color: var(--fwd); text-decoration: none; font-size: 14px; }
main { padding: 12px 24px 24px; }
section { background: white; border: 1px solid var(--line); border-radius: 6px;
          padding: 12px 16px; margin-bottom: 14px; }
.hint, .note { color: var(--muted); font-size: 13px; margin: 4px 0 8px; }
.missing { color: #6d4c41; background: #fff8e1; padding: 8px 12px; border-radius: 4px; }
.fwd-text { color: var(--fwd); font-weight: 600; }
.bwd-text { color: var(--bwd); font-weight: 600; }
.columns { display: flex; gap: 14px; align-items: flex-start; }
.pane { flex: 1 1 0; min-width: 0; }
.pane-head { font-size: 12px; color: var(--muted); margin: 0 0 4px; overflow: hidden;
             text-overflow: ellipsis; white-space: nowrap; }
.code { border: 1px solid var(--line); border-radius: 4px; background: #fcfcfc; overflow: auto;
        max-height: 560px; padding: 4px 0; margin-bottom: 8px; }
.line { white-space: pre; padding: 0 8px 0 0; border-left: 3px solid transparent; cursor: default; }
.line[data-key] { cursor: pointer; }
.line .no { display: inline-block; width: 3.2em; padding-right: 0.8em; text-align: right;
            color: #9e9e9e; user-select: none; text-decoration: none; }
.line.fwd { border-left-color: var(--fwd); }
.line.bwd { border-left-color: var(--bwd); }
.line.marker .src { color: var(--muted); font-style: italic; }
.line.fwd.marker .src { color: var(--fwd); }
.line.bwd.marker .src { color: var(--bwd); }
.line.marker .no { color: inherit; font-weight: 600; }
.line.hi { background: var(--hi); }
.line.pin { background: var(--pin); }
.line.pin.fwd { box-shadow: inset 3px 0 0 var(--fwd); }
.line.pin.bwd { box-shadow: inset 3px 0 0 var(--bwd); }
.overview { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr);
            grid-template-rows: auto auto 1fr; column-gap: 14px;
            grid-template-areas: "code generated" "check generated" "unused generated"; }
#code { grid-area: code; } #generated { grid-area: generated; }
#generated-code { max-height: 85vh; }
#check { grid-area: check; } #unused { grid-area: unused; }
.overview > section { min-width: 0; align-self: start; }
table { border-collapse: collapse; }
table.numbers td, table.numbers th, table.timing td { padding: 3px 10px; text-align: right;
    border-bottom: 1px solid #eeeeee; font-variant-numeric: tabular-nums; }
table.numbers td:first-child, table.numbers th:first-child, table.timing td:first-child {
    text-align: left; }
th { font-weight: 600; font-size: 13px; color: #424242; white-space: nowrap; }
.pass { color: #2e7d32; font-weight: 600; }
.fail { color: var(--bwd); font-weight: 700; }
div.returns { font-size: 13px; color: #424242; }
div.returns ul { display: inline; margin: 0; padding: 0; }
div.returns li { display: inline; margin-left: 10px; }
ul.unused { margin: 4px 0; padding-left: 20px; }
.picture { overflow: auto; text-align: center; }
.picture svg { max-width: 100%; height: auto; }
pre.ir, pre.formula { margin: 0; padding: 8px 10px; background: #fcfcfc; border: 1px solid
    var(--line); border-radius: 4px; overflow: auto; max-height: 480px; }
footer { color: var(--muted); font-size: 12px; padding: 0 24px 20px; }
@media (max-width: 900px) {
  .columns { flex-direction: column; } .pane { width: 100%; }
  .overview { display: block; }
}
"""

SCRIPT = """
(function () {
  "use strict";
  var body = document.body;
  window.addEventListener("error", function (event) {
    body.dataset.errors = (body.dataset.errors || "") + event.message + "; ";
  });
  var byKey = {};
  Array.prototype.forEach.call(document.querySelectorAll(".code [data-key]"), function (el) {
    (byKey[el.dataset.key] = byKey[el.dataset.key] || []).push(el);
  });
  var pinned = null;
  function light(key, on, mark) {
    (byKey[key] || []).forEach(function (el) { el.classList.toggle(mark, on); });
  }
  function keyAt(event) {
    var el = event.target.closest ? event.target.closest("[data-key]") : null;
    return el ? el.dataset.key : null;
  }
  function reveal(key, pane) {
    var shown = {};
    (byKey[key] || []).forEach(function (el) {
      var box = el.closest(".code");
      if (box && box !== pane && !shown[box.id]) {
        shown[box.id] = true;
        var top = el.offsetTop - box.offsetTop;
        if (top < box.scrollTop || top > box.scrollTop + box.clientHeight - el.offsetHeight) {
          box.scrollTop = Math.max(0, top - box.clientHeight / 3);
        }
      }
    });
  }
  function pin(key, pane) {
    if (pinned) { light(pinned, false, "pin"); }
    pinned = key;
    if (key) {
      light(key, true, "pin");
      reveal(key, pane);
    }
    body.dataset.pinned = key || "";
    try {
      history.replaceState(null, "", key ? "#line-" + key : location.pathname);
    } catch (ignored) { /* a page opened where the address cannot change */ }
  }
  Array.prototype.forEach.call(document.querySelectorAll(".code"), function (pane) {
    pane.addEventListener("mouseover", function (event) {
      var key = keyAt(event);
      if (key) { light(key, true, "hi"); }
    });
    pane.addEventListener("mouseout", function (event) {
      var key = keyAt(event);
      if (key) { light(key, false, "hi"); }
    });
    pane.addEventListener("click", function (event) {
      var key = keyAt(event);
      if (!key) { return; }
      event.preventDefault();
      pin(key === pinned ? null : key, pane);
    });
  });
  var asked = /^#line-(.+)$/.exec(location.hash);
  if (asked && byKey[decodeURIComponent(asked[1])]) { pin(decodeURIComponent(asked[1]), null); }
  body.dataset.links = String(Object.keys(byKey).length);
  body.dataset.ready = "yes";
})();
"""
