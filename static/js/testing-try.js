/*
 * The "try it" panel of a keyword's and a global function's page
 * (templates/testing/_try_panel.html). The panel works without this script: its form posts
 * and the whole page comes back with the outcome. With htmx, the panel alone is swapped.
 *
 * htmx leaves a 5xx answer unswapped (the responseHandling of templates/testing/base.html);
 * the panel's 503 (the sandbox is not available) carries the message to show, so it is
 * swapped like a 200. After a swap, focus goes to the first field in error, else to the
 * outcome, so that a keyboard user lands where the answer is.
 */
(function () {
  "use strict";

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (detail.target && detail.target.id === "try-panel" && detail.xhr.status === 503) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var panel = document.getElementById("try-panel");
    if (!panel || !(event.target === panel || event.target.contains(panel)
                    || panel.contains(event.target))) {
      return;
    }
    var invalid = panel.querySelector("[aria-invalid=true]");
    var result = panel.querySelector("#try-result");
    var target = invalid || result;
    if (target) {
      if (target === result) { result.setAttribute("tabindex", "-1"); }
      target.focus({preventScroll: false});
    }
  });
})();
