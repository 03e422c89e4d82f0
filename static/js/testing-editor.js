/*
 * Progressive enhancement of the interface editor and the scenario editor
 * (templates/testing/interfaces/, templates/testing/scenarios/).
 *
 * Every page works without this script: "add a row" is a submit button that redraws the
 * form with one more row, the body editors are all shown, and steps move with their Up
 * and Down buttons. With it:
 *   - rows are added in place from the table's <template>, and a row marked "Remove" fades;
 *   - only the editor of the chosen body type is shown;
 *   - the request preview and the list of {{variables}} follow what is typed;
 *   - steps are reordered by dragging their handle (SortableJS, vendored), the new order
 *     posted to the server, whose answer (the list of steps) replaces the list;
 *   - after an htmx step action, focus returns to the same button of the same step and the
 *     result is announced in the live region.
 * Nothing here builds HTML from typed text: the preview is made of text nodes and <mark>s.
 */
(function () {
  "use strict";

  var VARIABLE = /\{\{\s*(.+?)\s*\}\}/g;

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  /* ---- Confirmation of destructive forms (data-confirm) ---- */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  /* ---- Editable tables ---- */
  function addRow(fieldset) {
    var prefix = fieldset.getAttribute("data-rows");
    var total = fieldset.querySelector("input[name='" + prefix + "-TOTAL_FORMS']");
    var template = fieldset.querySelector("template[data-row-template]");
    var body = fieldset.querySelector("[data-rows-body]");
    if (!total || !template || !body) return false;
    var index = parseInt(total.value, 10) || 0;
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    var holder = document.createElement("tbody");
    holder.innerHTML = html;
    var first = null;
    while (holder.firstChild) {
      var node = holder.firstChild;
      body.appendChild(node);
      if (!first && node.querySelector) first = node.querySelector("input:not([type=hidden]), select, textarea");
    }
    total.value = String(index + 1);
    var empty = fieldset.querySelector(".rows-empty");
    if (empty) empty.hidden = true;
    if (first) first.focus();
    return true;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[name=add_row]");
    if (!button) return;
    var fieldset = button.closest("[data-rows]");
    if (fieldset && addRow(fieldset)) {
      event.preventDefault();
      updatePreview();
    }
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-rows] input[name$='-DELETE']")) {
      var row = target.closest("tr");
      if (row) row.classList.toggle("is-removed", target.checked);
      updatePreview();
    }
    if (target.matches && target.matches("[data-body-editor] select[name=body_type]")) {
      showBody(target.form);
    }
  });

  /* ---- Body editors by type ---- */
  function showBody(form) {
    if (!form) return;
    var select = form.querySelector("select[name=body_type]");
    if (!select) return;
    form.querySelectorAll("[data-body-for]").forEach(function (part) {
      var kinds = part.getAttribute("data-body-for").split(" ");
      part.hidden = kinds.indexOf(select.value) === -1;
    });
  }

  /* ---- Request preview with {{variables}} marked ---- */
  function appendMarked(element, text) {
    var last = 0;
    text.replace(VARIABLE, function (match, name, offset) {
      if (offset > last) element.appendChild(document.createTextNode(text.slice(last, offset)));
      var mark = document.createElement("mark");
      mark.className = "var";
      mark.textContent = match;
      element.appendChild(mark);
      last = offset + match.length;
      return match;
    });
    if (last < text.length) element.appendChild(document.createTextNode(text.slice(last)));
  }

  function updatePreview() {
    var form = document.querySelector("form[data-interface-editor]");
    if (!form) return;
    var preview = form.querySelector("[data-preview]");
    var vars = form.querySelector("[data-vars]");
    var method = form.querySelector("[name=method]");
    var url = form.querySelector("[name=url]");
    if (!preview || !method || !url) return;
    var pairs = [];
    form.querySelectorAll("[data-rows=query] tr[data-row]").forEach(function (row) {
      var name = row.querySelector("input[name$='-name']");
      var value = row.querySelector("input[name$='-value']");
      var enabled = row.querySelector("input[name$='-enabled']");
      var removed = row.querySelector("input[name$='-DELETE']");
      if (!name || !name.value || (enabled && !enabled.checked) || (removed && removed.checked)) return;
      pairs.push(name.value + "=" + (value ? value.value : ""));
    });
    var line = url.value;
    if (pairs.length) line += (line.indexOf("?") === -1 ? "?" : "&") + pairs.join("&");
    preview.textContent = "";
    appendMarked(preview, method.value + " " + line);
    if (!vars) return;
    var names = [];
    form.querySelectorAll("input[type=text], input:not([type]), textarea").forEach(function (input) {
      var found;
      VARIABLE.lastIndex = 0;
      while ((found = VARIABLE.exec(input.value)) !== null) {
        if (names.indexOf(found[1]) === -1) names.push(found[1]);
      }
    });
    vars.textContent = "";
    if (!names.length) {
      vars.textContent = vars.getAttribute("data-none") || "—";
      return;
    }
    names.forEach(function (name, index) {
      if (index) vars.appendChild(document.createTextNode(", "));
      var mark = document.createElement("mark");
      mark.className = "var";
      mark.textContent = name;
      vars.appendChild(mark);
    });
  }

  document.addEventListener("input", function (event) {
    if (event.target.closest && event.target.closest("form[data-interface-editor]")) updatePreview();
  });

  /* ---- Steps: drag and drop, focus and announcements after htmx swaps ---- */
  function announce(block) {
    var status = document.getElementById("steps-status");
    var text = block && block.getAttribute("data-announce");
    if (status && text) {
      status.textContent = "";
      window.setTimeout(function () { status.textContent = text; }, 50);
    }
  }

  function replaceSteps(html) {
    var old = document.getElementById("steps");
    if (!old) return;
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var fresh = holder.querySelector("#steps");
    if (!fresh) return;
    old.replaceWith(fresh);
    if (window.htmx) window.htmx.process(fresh);
    initSortable(fresh);
    announce(fresh);
  }

  function postOrder(block, list) {
    var body = new URLSearchParams();
    list.querySelectorAll("[data-step-id]").forEach(function (item) {
      body.append("step", item.getAttribute("data-step-id"));
    });
    block.setAttribute("aria-busy", "true");
    return fetch(block.getAttribute("data-reorder-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {"X-CSRFToken": csrfToken(), "HX-Request": "true",
                "Content-Type": "application/x-www-form-urlencoded"},
      body: body.toString()
    }).then(function (response) {
      return response.text();
    }).then(replaceSteps, function () {
      block.removeAttribute("aria-busy");
      window.location.reload();
    });
  }

  function initSortable(block) {
    if (!block || !window.Sortable) return;
    var list = block.querySelector("[data-sortable]");
    if (!list || list.sortable || !list.querySelector(".drag-handle")) return;
    list.sortable = window.Sortable.create(list, {
      handle: ".drag-handle",
      draggable: "[data-step-id]",
      animation: 120,
      ghostClass: "is-ghost",
      // Pointer events rather than the browser's native drag and drop: the same behaviour
      // with a mouse, a pen and a finger, and a drag image that follows the list's styles.
      forceFallback: true,
      fallbackTolerance: 3,
      onEnd: function (event) {
        if (event.oldIndex !== event.newIndex) postOrder(block, list);
      }
    });
  }

  // A refused step action (400, 409) answers with the list and its error: show it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr && event.detail.xhr.status;
    if ((status === 400 || status === 409) && event.detail.target && event.detail.target.id === "steps") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  var focusKey = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var active = document.activeElement;
    focusKey = active && active.getAttribute ? active.getAttribute("data-focus-key") : null;
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var block = document.getElementById("steps");
    if (!block || !(event.target === block || block.contains(event.target))) return;
    initSortable(block);
    announce(block);
    if (!focusKey) return;
    var parts = focusKey.split("-");
    var action = parts.shift();
    var id = parts.join("-");
    var other = {up: "down", down: "up"}[action];
    var candidates = [focusKey, other && other + "-" + id];
    for (var i = 0; i < candidates.length; i++) {
      var button = candidates[i] && block.querySelector("[data-focus-key='" + candidates[i] + "']");
      if (button && !button.disabled) { button.focus(); focusKey = null; return; }
    }
    var title = block.querySelector("#step-" + id + " .step-title") || block.querySelector(".step-title");
    if (title) title.focus();
    focusKey = null;
  });

  /* ---- Start ---- */
  function start() {
    document.querySelectorAll("form[data-interface-editor]").forEach(showBody);
    updatePreview();
    initSortable(document.getElementById("steps"));
    var layout = document.querySelector("[data-focus]");
    if (layout) {
      var key = layout.getAttribute("data-focus");
      var target = document.getElementById(key) ||
        document.querySelector("details[open] [name^='" + key + "-']");
      if (target) target.focus();
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
