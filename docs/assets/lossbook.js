/* Lossbook: what a narrow screen needs beyond the theme.
 *
 * 1. Content wider than its column (display equations, tables, the rare formula in the text too
 *    long for a phone) scrolls sideways; a fade at each edge where more is hidden says so. The classes lossbook-more-left / lossbook-more-right are
 *    set from the element's scroll position, and kept up to date as it scrolls, resizes (fonts
 *    loading, a tab or a fold opening) or the window changes.
 * 2. A code block's copy button sits over the block's top right corner; where a line of code
 *    runs under it, the block gets room above its code (lossbook-code-clear) so the button
 *    covers nothing.
 * 3. Every copy button copies its own block (see uniqueCodeIds).
 * 4. A figure's phone variant keeps its address when the reader moves on (pinFigureSources).
 *
 * Runs on every page the theme shows, instant navigation included (document$).
 */
(function () {
  "use strict";

  const SCROLLERS =
    ".md-typeset div.arithmatex, .md-typeset .md-typeset__scrollwrap, .md-typeset span.lossbook-wide-inline";

  /* Inline math cannot wrap: a formula in the text wider than its column scrolls in its own box. */
  function wideInlineMath() {
    const changes = [];
    for (const span of document.querySelectorAll(".md-typeset span.arithmatex")) {
      const math = span.querySelector("math");
      const block = span.parentElement && span.parentElement.closest("p, li, td, th, dd, dt, div, figcaption");
      if (!math || !block || !block.clientWidth) continue;
      const style = getComputedStyle(block);
      const room = block.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      const wide = math.getBoundingClientRect().width > room;
      if (span.classList.contains("lossbook-wide-inline") !== wide) changes.push([span, wide]);
    }
    for (const [span, wide] of changes) span.classList.toggle("lossbook-wide-inline", wide);
  }

  /* Each layout step measures every element first and changes classes after: a change between
     two measurements would make the browser lay the page out again for the second. */
  function cueOf(el) {
    const hidden = el.scrollWidth - el.clientWidth;
    const scrolls = el.clientWidth > 0 && hidden > 1;
    const left = el.scrollLeft;
    return () => {
      el.classList.toggle("lossbook-scrolls", scrolls);
      el.classList.toggle("lossbook-more-left", scrolls && left > 1);
      el.classList.toggle("lossbook-more-right", scrolls && left < hidden - 1);
    };
  }

  function updateCues(elements) {
    for (const change of [...elements].map(cueOf)) change();
  }

  function buttonOf(pre) {
    return pre.querySelector(":scope > .md-code__nav, :scope > .md-clipboard");
  }

  /* Whether any text of the block would lie under its copy button with the block scrolled to
     its start and no room added above the code (so the answer does not change once room is
     added: no resize loop). Its text is measured a piece at a time from the top, up to the
     first piece below the button: the boxes of a whole block (every highlighted token of every
     line) cost tens of milliseconds on a long page, at every arrival and resize. */
  function underButton(pre, code, box) {
    const pad = parseFloat(getComputedStyle(code).paddingTop);
    if (!pre.dataset.lossbookPad) pre.dataset.lossbookPad = String(pad);
    const shift = pad - parseFloat(pre.dataset.lossbookPad); // the room added, if any
    const range = document.createRange();
    const text = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    for (let node = text.nextNode(); node; node = text.nextNode()) {
      range.selectNodeContents(node);
      for (const rect of range.getClientRects()) {
        if (rect.width === 0) continue;
        const top = rect.top - shift;
        if (top >= box.bottom) return false; // lines run top to bottom: the rest are lower
        const left = rect.left + code.scrollLeft;
        const right = rect.right + code.scrollLeft;
        if (top + rect.height > box.top && right > box.left - 4 && left < box.right) return true;
      }
    }
    return false;
  }

  function copyButtonRoomOf(pre) {
    const code = pre.querySelector(":scope > code");
    const button = buttonOf(pre);
    if (!code || !button) return () => {};
    const box = button.getBoundingClientRect();
    if (box.width === 0) return () => {}; // not shown (a closed fold, a hidden tab): done when shown
    const covered = underButton(pre, code, box);
    const room = `${Math.ceil(box.bottom - pre.getBoundingClientRect().top + 2)}px`;
    return () => {
      if (covered && pre.style.getPropertyValue("--lossbook-code-clear") !== room) {
        pre.style.setProperty("--lossbook-code-clear", room);
      }
      if (pre.classList.contains("lossbook-code-clear") !== covered) {
        pre.classList.toggle("lossbook-code-clear", covered);
      }
    };
  }

  function clearCopyButtons(pres) {
    for (const change of [...pres].map(copyButtonRoomOf)) change();
  }

  /* The theme names each code block "__code_" + the id of its nearest ancestor with an id, so two
     blocks in one such element (a folded question with an id, code and its output) get the same
     id, and the second block's copy button copies the first block. Rename the later ones and
     point their buttons at them. */
  function uniqueCodeIds() {
    const seen = new Map();
    for (const pre of document.querySelectorAll('pre[id^="__code_"]')) {
      const count = seen.get(pre.id) || 0;
      seen.set(pre.id, count + 1);
      if (count === 0) continue;
      const old = pre.id;
      let id = `${old}__${count}`;
      while (document.getElementById(id)) id += "_";
      pre.id = id;
      for (const target of pre.querySelectorAll("[data-clipboard-target]")) {
        target.setAttribute("data-clipboard-target", `#${CSS.escape(id)} > code`);
      }
    }
  }

  const resized = new ResizeObserver((entries) => {
    const changes = entries.map(({ target }) => (target.tagName === "PRE" ? copyButtonRoomOf(target) : cueOf(target)));
    for (const change of changes) change();
  });

  /* A figure's phone variant is offered by a <source> whose srcset is relative to its page
     ("../figures/x.phone.svg"). Instant navigation changes the address before it swaps the
     content, and a picture of a page left behind, still alive, picks its source again when the
     window resizes, against the new address: a 404 for each figure of each page seen before (seen
     in the browser tests). Each source is pinned to the address it was written for. */
  function pinFigureSources() {
    for (const source of document.querySelectorAll(".md-typeset picture > source[srcset]")) {
      const written = source.getAttribute("srcset");
      if (/\s/.test(written.trim())) continue; // descriptors: not one of ours
      const url = new URL(written, document.baseURI).href;
      if (written !== url) source.setAttribute("srcset", url);
    }
  }

  function setup() {
    pinFigureSources();
    uniqueCodeIds();
    wideInlineMath();
    const scrollers = document.querySelectorAll(SCROLLERS);
    for (const el of scrollers) {
      if (!el.dataset.lossbookCue) {
        el.dataset.lossbookCue = "1";
        el.addEventListener("scroll", () => updateCues([el]), { passive: true });
        resized.observe(el);
      }
    }
    const pres = [...document.querySelectorAll(".md-typeset pre")].filter(buttonOf);
    for (const pre of pres) {
      if (!pre.dataset.lossbookCopy) {
        pre.dataset.lossbookCopy = "1";
        resized.observe(pre);
      }
    }
    updateCues(scrollers);
    clearCopyButtons(pres);
  }

  /* The theme adds the copy buttons after it swaps in a page: wait for them. */
  function setupWhenReady(tries = 0) {
    const waiting = [...document.querySelectorAll(".md-typeset pre:has(> code)")].some((pre) => !buttonOf(pre));
    setup();
    if (waiting && tries < 20) setTimeout(() => setupWhenReady(tries + 1), 50);
  }

  if (typeof document$ !== "undefined") document$.subscribe(() => setupWhenReady());
  else document.addEventListener("DOMContentLoaded", () => setupWhenReady());
  if (document.fonts) document.fonts.ready.then(setup);
  let pending = false;
  window.addEventListener("resize", () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      wideInlineMath();
      updateCues(document.querySelectorAll(SCROLLERS));
    });
  });
  window.lossbookLayout = setup; // for the browser tests: lay out again now
})();
