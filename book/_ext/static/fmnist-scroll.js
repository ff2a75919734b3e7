// fmnist-edu: mark every box in the article whose content is wider than the box (a wide
// table, a long printed line, a long equation) with the class "fmnist-scrolls", so that
// fmnist.css shows "Scroll sideways for more" above it (not in inline math), and let a
// keyboard reach it (tabindex 0: a box that scrolls must be focusable). Measured again on
// resize and once MathJax has typeset the page. Added to every page by the Sphinx
// extension book/_ext/fmnist_phone.py (not in book/_static, where no .js file belongs).
(() => {
  const BOXES = ".bd-article :is(.pst-scrollable-table-container, div.cell_output pre, "
    + "div.cell_input pre, div.highlight pre, div.math mjx-container, span.math)";
  const mark = () => {
    for (const box of document.querySelectorAll(BOXES)) {
      const scrolls = box.scrollWidth > box.clientWidth + 1;
      box.classList.toggle("fmnist-scrolls", scrolls);
      if (scrolls && !box.hasAttribute("tabindex")) box.setAttribute("tabindex", "0");
    }
  };
  window.addEventListener("load", () => {
    mark();
    window.MathJax?.startup?.promise?.then(mark);
  });
  window.addEventListener("resize", mark);
})();
