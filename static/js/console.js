// BCTRL Console behaviour that htmx attributes cannot express. No inline scripts (CSP).
(function () {
  "use strict";

  // Confirm destructive actions: <button data-confirm="Delete workspace X?">. Works for plain
  // forms and htmx requests alike.
  document.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    var message = (submitter && submitter.dataset.confirm) || event.target.dataset.confirm;
    if (message && !window.confirm(message)) { event.preventDefault(); event.stopImmediatePropagation(); }
  }, true);
  document.addEventListener("htmx:confirm", function (event) {
    var el = event.detail.elt;
    var message = el.dataset && el.dataset.confirm;
    if (!message || el.tagName === "FORM") return;
    event.preventDefault();
    if (window.confirm(message)) event.detail.issueRequest(true);
  });

  // How long ago a moment was, as the title of its <time datetime> (templatetags/console.py
  // `when`), made when the pointer or focus reaches it: always current, whatever the page's age.
  var UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];
  function ago(seconds) {
    var future = seconds < 0, left = Math.abs(seconds), parts = [];
    for (var i = 0; i < UNITS.length && parts.length < 2; i++) {
      var count = Math.floor(left / UNITS[i][1]);
      if (count || parts.length) {
        if (count) parts.push(count + " " + UNITS[i][0] + (count === 1 ? "" : "s"));
        else break;  // "2 days, 3 hours", never "2 days, 0 hours"
        left -= count * UNITS[i][1];
      }
    }
    var text = parts.length ? parts.join(", ") : "less than a minute";
    return future ? "in " + text : text + " ago";
  }
  function titleMoment(event) {
    var moment = event.target.closest && event.target.closest("time[datetime]");
    var at = moment && Date.parse(moment.getAttribute("datetime"));
    if (at) moment.title = ago(Math.round((Date.now() - at) / 1000));
  }
  document.addEventListener("mouseover", titleMoment);
  document.addEventListener("focusin", titleMoment);

  // Toasts fade after a while; errors stay until clicked.
  function ageToasts(root) {
    root.querySelectorAll(".toast:not([data-aged])").forEach(function (toast) {
      toast.dataset.aged = "1";
      if (!toast.classList.contains("toast-error")) setTimeout(function () { toast.remove(); }, 6000);
      toast.addEventListener("click", function () { toast.remove(); });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { ageToasts(document); });
  document.addEventListener("htmx:afterSettle", function () { ageToasts(document); });

  // An htmx request that fails on the network or with an unrendered status still tells the user.
  document.addEventListener("htmx:sendError", function () { toast("The console could not be reached. Check your connection and retry.", "error"); });
  document.addEventListener("htmx:responseError", function (event) {
    if (!event.detail.xhr.responseText) toast("The action failed (" + event.detail.xhr.status + "). Retry in a moment.", "error");
  });
  // Let the server's error fragments (4xx/5xx with a body) swap in like successes. A whole page
  // (an error page, a sign-in page after the session ended) is never swapped into a region: it
  // would draw a second console inside the first; its heading is told in a toast instead.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    var text = xhr.responseText || "";
    if (/^\s*<!doctype html/i.test(text) && event.detail.target !== document.body) {
      event.detail.shouldSwap = false;
      event.detail.isError = false;
      var page = new DOMParser().parseFromString(text, "text/html");
      var heading = page.querySelector("main h1");
      var detail = page.querySelector("main p");
      toast(((heading && heading.textContent) || ("The action failed (" + xhr.status + ")")) +
            (detail ? ": " + detail.textContent : ""), "error");
      return;
    }
    if (xhr.status >= 400 && text) { event.detail.shouldSwap = true; event.detail.isError = false; }
  });

  function toast(text, level) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var div = document.createElement("div");
    div.className = "toast toast-" + (level || "success");
    div.setAttribute("role", "status");
    div.textContent = text;
    box.appendChild(div);
    ageToasts(box);
  }
  window.bctrlToast = toast;

  // Drag and drop onto a .dropzone fills its file input.
  document.addEventListener("dragover", function (event) {
    var zone = event.target.closest && event.target.closest(".dropzone");
    if (zone) { event.preventDefault(); zone.classList.add("dragover"); }
  });
  document.addEventListener("dragleave", function (event) {
    var zone = event.target.closest && event.target.closest(".dropzone");
    if (zone) zone.classList.remove("dragover");
  });
  document.addEventListener("drop", function (event) {
    var zone = event.target.closest && event.target.closest(".dropzone");
    if (!zone) return;
    event.preventDefault();
    zone.classList.remove("dragover");
    var input = zone.querySelector("input[type=file]");
    if (input && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      var label = zone.querySelector("[data-file-name]");
      if (label) label.textContent = event.dataTransfer.files[0].name;
    }
  });

  // The step runner by keyboard (templates/front/runtimes/step_runner.html): Remove takes the
  // focus to the next step's call picker (or the previous one's, or Add step), never to the page;
  // a step that Add step brings gets the focus on its call picker.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-remove-step]");
    if (!button) return;
    var row = button.closest(".step-row");
    if (!row) return;
    var next = row.nextElementSibling, previous = row.previousElementSibling;
    row.remove();
    var landing = (next && next.querySelector("[data-step-call]")) || (previous && previous.querySelector("[data-step-call]")) ||
      document.getElementById("add-step");
    if (landing) landing.focus();
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target.id !== "step-rows" || !event.detail.requestConfig) return;
    var rows = event.target.querySelectorAll(".step-row");
    var added = rows[rows.length - 1];
    if (added && event.detail.requestConfig.elt && event.detail.requestConfig.elt.id === "add-step") {
      added.querySelector("[data-step-call]").focus();
    }
  });

  // Focus stays where the user acted: a button htmx disables while its request runs (Run steps),
  // or an element a swap replaces by one of the same id, would otherwise leave the focus on the
  // page itself. Only right after a request of the user's, never for a live update.
  // A live update's request while the user's own runs (the timeline, the live view) changes nothing.
  var acted = null, actedBy = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var active = document.activeElement, elt = event.detail.elt;
    // the user's own act: the focused element made the request, or is inside (or is the submitter of) what did
    var mine = active && active !== document.body && elt && (elt === active || elt.contains(active) || active.form === elt);
    if (mine) { acted = active; actedBy = elt; }
  });
  function keepFocus() {
    if (!acted || (document.activeElement && document.activeElement !== document.body)) return;
    var target = acted.isConnected ? acted : (acted.id && document.getElementById(acted.id));
    if (target && !target.disabled) target.focus({ preventScroll: true });
  }
  document.addEventListener("htmx:afterRequest", function (event) {
    if (!acted || event.detail.elt !== actedBy) return;
    var mine = acted;
    setTimeout(keepFocus, 0);
    setTimeout(function () { keepFocus(); if (acted === mine) { acted = null; actedBy = null; } }, 100);  // after the swap settled
  });
  document.addEventListener("htmx:afterSettle", keepFocus);

  // A bulk action says how many it acts on: <button data-count-chosen="NAME"> in a form counts
  // the form's checked boxes named NAME ("Stop selected (3)"), is disabled at 0, and confirms with
  // data-confirm-one / data-confirm-many ("{n}" is the count).
  function countChosen(root) {
    root.querySelectorAll("[data-count-chosen]").forEach(function (button) {
      var form = button.form;
      if (!form) return;
      var n = Array.prototype.filter.call(form.elements, function (el) {
        return el.name === button.dataset.countChosen && el.checked;
      }).length;
      var shown = button.querySelector("[data-chosen-count]");
      if (shown) shown.textContent = "(" + n + ")";
      button.disabled = n === 0;
      button.dataset.confirm = n === 1 ? button.dataset.confirmOne : (button.dataset.confirmMany || "").replace("{n}", n);
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.type === "checkbox" && event.target.form) countChosen(event.target.form);
  });
  document.addEventListener("DOMContentLoaded", function () { countChosen(document); });
  document.addEventListener("htmx:afterSettle", function () { countChosen(document); });
  document.addEventListener("live:row", function () { countChosen(document); });

  // Show a part of a form only for one choice: <fieldset data-show-when="launch_mode=profile">.
  function syncShowWhen(root) {
    root.querySelectorAll("[data-show-when]").forEach(function (part) {
      var rule = part.dataset.showWhen.split("=");
      var form = part.closest("form");
      var chosen = form && form.querySelector("[name='" + rule[0] + "']:checked");
      part.hidden = !!chosen && chosen.value !== rule[1];
      // A hidden part's fields are not sent and not checked (its required fields wait for it).
      if (part.tagName === "FIELDSET") part.disabled = part.hidden;
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.form) syncShowWhen(event.target.form);
  });
  document.addEventListener("DOMContentLoaded", function () { syncShowWhen(document); });
  document.addEventListener("htmx:afterSettle", function (event) { syncShowWhen(event.target); });
})();

// Countdowns: <span data-countdown="27"> ticks down to 0 each second (the TOTP code's life);
// a <progress data-countdown-bar> next to it follows. htmx fetches the next code itself.
(function () {
  "use strict";
  setInterval(function () {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = Math.max(0, parseInt(el.dataset.countdown, 10) - 1);
      el.dataset.countdown = String(left);
      el.textContent = String(left);
      var box = el.closest(".totp-box");
      var bar = box && box.querySelector("[data-countdown-bar]");
      if (bar) bar.value = left;
    });
  }, 1000);
})();

// LinesWidget: "Add another" clones the last input of its list, empty (templates/includes/lines_widget.html).
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-add-row]");
  if (!button) return;
  var list = button.closest("[data-row-list]");
  var inputs = list.querySelectorAll("input");
  var last = inputs[inputs.length - 1];
  var row = last.cloneNode(false);
  row.value = "";
  row.removeAttribute("id");
  row.setAttribute("aria-label", (list.dataset.rowLabel || last.name) + " " + (inputs.length + 1));
  list.insertBefore(row, button);
  row.focus();
});

// Uploads (templates/includes/upload_field.html): the API's limit is checked as soon as a file is
// chosen (the form will not send one that is too large), and the progress bar follows htmx's
// upload progress events.
(function () {
  "use strict";
  function checkSize(input) {
    var zone = input.closest("[data-upload]");
    var error = zone && zone.querySelector("[data-file-error]");
    var label = zone && zone.querySelector("[data-file-name]");
    var file = input.files && input.files[0];
    var max = parseInt(input.dataset.maxBytes || "0", 10);
    if (label) label.textContent = file ? file.name : "";
    var message = file && max && file.size > max
      ? file.name + " is too large: the API accepts at most " + input.dataset.maxHuman + "."
      : "";
    input.setCustomValidity(message);
    if (error) { error.textContent = message; error.hidden = !message; }
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-upload] input[type=file]")) checkSize(event.target);
  });
  document.addEventListener("drop", function (event) {
    var zone = event.target.closest && event.target.closest("[data-upload]");
    var input = zone && zone.querySelector("input[type=file]");
    if (input) setTimeout(function () { checkSize(input); }, 0);
  });
  document.addEventListener("htmx:xhr:progress", function (event) {
    var bar = event.target.querySelector && event.target.querySelector("[data-upload-progress]");
    if (!bar || !event.detail.lengthComputable) return;
    bar.hidden = false;
    bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
  });
})();

// Copy, download and import (step runner): <button data-copy="#id">, <button data-download="name"
// data-download-from="#id">, <input type="file" data-import-into="#textarea-id">.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var copy = event.target.closest && event.target.closest("[data-copy]");
    if (copy) {
      var source = document.querySelector(copy.dataset.copy);
      if (!source) return;
      var done = function () { window.bctrlToast("Copied.", "success"); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.textContent).then(done);
      } else {
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        if (document.execCommand("copy")) done();
      }
      return;
    }
    var download = event.target.closest && event.target.closest("[data-download]");
    if (download) {
      var from = document.querySelector(download.dataset.downloadFrom);
      if (!from) return;
      var url = URL.createObjectURL(new Blob([from.textContent], { type: "application/json" }));
      var link = document.createElement("a");
      link.href = url;
      link.download = download.dataset.download;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    }
  });
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.dataset || !input.dataset.importInto || !input.files || !input.files[0]) return;
    var target = document.querySelector(input.dataset.importInto);
    input.files[0].text().then(function (text) {
      try { JSON.parse(text); } catch (error) { window.bctrlToast(input.files[0].name + " is not JSON: " + error.message, "error"); return; }
      if (target) { target.value = text; target.closest("details") && (target.closest("details").open = true); }
    });
  });
})();
