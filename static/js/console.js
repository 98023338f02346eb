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
})();
