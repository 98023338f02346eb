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
  // Let the server's error fragments (4xx/5xx with a body) swap in like successes.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status >= 400 && event.detail.xhr.responseText) { event.detail.shouldSwap = true; event.detail.isError = false; }
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

  // Remove a repeatable row: <button type="button" data-remove-closest=".step-row">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-remove-closest]");
    if (!button) return;
    var row = button.closest(button.dataset.removeClosest);
    if (row) row.remove();
  });

  // Show a part of a form only for one choice: <fieldset data-show-when="launch_mode=profile">.
  function syncShowWhen(root) {
    root.querySelectorAll("[data-show-when]").forEach(function (part) {
      var rule = part.dataset.showWhen.split("=");
      var form = part.closest("form");
      var chosen = form && form.querySelector("[name='" + rule[0] + "']:checked");
      part.hidden = !!chosen && chosen.value !== rule[1];
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
