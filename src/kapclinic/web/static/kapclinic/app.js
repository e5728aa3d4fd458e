/* kapclinic: a table too wide for the screen scrolls inside its own box; that box is then
   made reachable and named for keyboard and screen-reader users (WCAG 2.1.1). */
(function () {
  "use strict";
  function mark() {
    document.querySelectorAll(".table-wrap").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        box.tabIndex = 0;
        box.setAttribute("role", "region");
        if (!box.hasAttribute("aria-label")) {
          var holder = box.closest("section, figure, form");
          var title = holder && holder.querySelector("h2, h3, figcaption, caption");
          var name = title ? title.textContent.trim().replace(/\s+/g, " ") : "Table";
          box.setAttribute("aria-label", name + " (scrolls sideways)");
          box.setAttribute("data-named-by-script", "");
        }
      } else if (box.getAttribute("role") === "region") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        if (box.hasAttribute("data-named-by-script")) {
          box.removeAttribute("aria-label");
          box.removeAttribute("data-named-by-script");
        }
      }
    });
  }
  document.addEventListener("DOMContentLoaded", mark);
  window.addEventListener("resize", mark);
  document.addEventListener("htmx:afterSettle", mark);
})();
