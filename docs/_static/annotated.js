// MathJax typesets after the browser has scrolled to a page's #anchor, and typeset formulas
// change the height of what lies above it: scroll to the anchor again once MathJax is done.
// A formula and the punctuation right after it stay on one line (a browser may break between
// a typeset formula and the comma that follows it).
window.addEventListener("load", () => {
  const startup = window.MathJax && window.MathJax.startup;
  if (!startup || !startup.promise) return;
  startup.promise.then(() => {
    for (const math of document.querySelectorAll("span.math")) {
      const next = math.nextSibling;
      const mark = next && next.nodeType === Node.TEXT_NODE && next.data.match(/^[,.;:)]+/);
      if (!mark) continue;
      const keep = document.createElement("span");
      keep.className = "lk-nobreak";
      math.replaceWith(keep);
      keep.append(math, mark[0]);
      next.data = next.data.slice(mark[0].length);
    }
    if (!location.hash) return;
    const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (target) target.scrollIntoView({behavior: "instant"});
  });
});
