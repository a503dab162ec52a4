// MathJax typesets after the browser has scrolled to a page's #anchor, and typeset formulas
// change the height of what lies above it: scroll to the anchor again once MathJax is done.
window.addEventListener("load", () => {
  const startup = window.MathJax && window.MathJax.startup;
  if (!startup || !startup.promise || !location.hash) return;
  startup.promise.then(() => {
    const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (target) target.scrollIntoView({behavior: "instant"});
  });
});
