// The run page's inspector (templates/live/inspector.html, dashboard/live/runs.py): its timeline's
// filters, search and follow; the timeline and the recording player kept in step over the
// player's postMessage protocol; links to a moment (?t=<ms since the run started>, ?entry=<id>);
// the request drawer. And what the engine's embedded pages tell their parent: the wall's tiles
// and the live view show the title and URL of the tab a live viewer shows (bctrl:live-tab).
// No inline scripts (CSP). Loaded after htmx.
(function () {
  "use strict";

  function timeline() { return document.getElementById("timeline"); }
  function rowsOf(panel) { return Array.prototype.slice.call(panel.querySelectorAll("#timeline-rows tr.entry")); }
  function startedAt(panel) { var s = Number(panel.dataset.startedAt); return isFinite(s) && s > 0 ? s : null; }

  // --- the time of each entry, as the offset from the run's start (what ?t= and the player use) --
  function clock(ms) {
    var tenths = Math.max(0, Math.floor(ms / 100)), s = Math.floor(tenths / 10), m = Math.floor(s / 60), h = Math.floor(m / 60);
    var ss = String(s % 60).padStart(2, "0") + "." + (tenths % 10);
    return h ? h + ":" + String(m % 60).padStart(2, "0") + ":" + ss : m + ":" + ss;
  }
  function label(panel, row) {
    var start = startedAt(panel), at = Number(row.dataset.at), pick = row.querySelector("[data-pick]");
    if (!pick || !start || !isFinite(at) || !row.dataset.at || pick.dataset.labelled) return;
    pick.textContent = clock(at - start);
    pick.setAttribute("aria-label", "Show " + clock(at - start) + " in the recording");
    pick.dataset.labelled = "1";
  }

  // --- filters, search, follow ------------------------------------------------------------
  function shown(panel, row) {
    var kind = panel.querySelector("[data-timeline-kind][value='" + row.dataset.kind + "']");
    var search = panel.querySelector("[data-timeline-search]");
    var words = search ? search.value.trim().toLowerCase() : "";
    return (!kind || kind.checked) && (!words || (row.dataset.search || "").toLowerCase().indexOf(words) >= 0);
  }
  function refilter(panel) {
    var visible = 0;
    rowsOf(panel).forEach(function (row) {
      row.hidden = !shown(panel, row);
      if (!row.hidden) visible += 1;
    });
    status(panel, visible === rowsOf(panel).length ? "" : visible + " of " + rowsOf(panel).length + " shown");
  }
  function status(panel, text) {
    var box = panel.querySelector("[data-timeline-status]");
    if (box && box.textContent !== text) box.textContent = text;
  }
  function following(panel) {
    var box = panel.querySelector("[data-timeline-follow]");
    return box && box.checked;
  }
  function scrollTo(panel, row) {
    var scroller = panel.querySelector(".timeline-scroll");
    if (!scroller || !row || row.hidden) return;
    var top = row.offsetTop, bottom = top + row.offsetHeight;
    if (top < scroller.scrollTop || bottom > scroller.scrollTop + scroller.clientHeight) {
      scroller.scrollTop = Math.max(0, top - scroller.clientHeight / 3);
    }
  }
  function followNewest(panel) {
    if (panel.dataset.active !== "true" || !following(panel)) return;
    var scroller = panel.querySelector(".timeline-scroll");
    if (scroller) scroller.scrollTop = scroller.scrollHeight;
  }

  // --- the recording player: seek it, hear where it is ------------------------------------------
  var player = { frame: null, origin: "", pending: null, tries: 0, at: null, playing: false };
  function findPlayer() {
    var frame = document.querySelector("iframe[data-player]");
    if (frame !== player.frame) {
      player.frame = frame;
      player.origin = frame ? new URL(frame.src, location.href).origin : "";
      if (frame) frame.addEventListener("load", function () { flush(); });
    }
    return frame;
  }
  function send(message) {
    var frame = findPlayer();
    if (frame && frame.contentWindow) frame.contentWindow.postMessage(message, player.origin);
  }
  // A seek is kept until the player says it is there: a player still loading its recording
  // drops it, and says where it is once loaded. Sent again then, three times at most (a moment
  // outside the recording lands on its edge, and the player would never say it is there).
  function seek(at) {
    if (!isFinite(at)) return;
    player.pending = at;
    player.tries = 0;
    flush();
  }
  function flush() {
    if (player.pending === null) return;
    if (player.tries >= 4) { player.pending = null; return; }
    player.tries += 1;
    send({ type: "bctrl:seek", at: player.pending });
  }
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || typeof data !== "object" || typeof data.type !== "string") return;
    if (data.type === "bctrl:live-tab") { liveTab(event, data); return; }
    var frame = findPlayer();
    if (!frame || event.source !== frame.contentWindow || event.origin !== player.origin) return;
    if (data.type === "bctrl:recording-ready") { flush(); return; }
    if (data.type !== "bctrl:recording-time" || !isFinite(Number(data.at))) return;
    var at = Number(data.at);
    player.at = at;
    player.playing = !!data.playing;
    if (player.pending !== null) {
      if (Math.abs(at - player.pending) <= 1500) player.pending = null; else flush();
    }
    var panel = timeline();
    if (panel) highlight(panel, at, player.playing);
    var state = document.querySelector("[data-player-state]");
    var start = panel && startedAt(panel);
    if (state && start) state.textContent = (player.playing ? "Playing " : "At ") + clock(at - start) + " of the run";
  });

  // The entry at a moment: the last one at or before it (binary search over the entries' times).
  function entryAt(panel, at) {
    var rows = rowsOf(panel).filter(function (r) { return r.dataset.at && !r.hidden; });
    var low = 0, high = rows.length - 1, found = null;
    while (low <= high) {
      var mid = (low + high) >> 1;
      if (Number(rows[mid].dataset.at) <= at) { found = rows[mid]; low = mid + 1; } else { high = mid - 1; }
    }
    return found;
  }
  function highlight(panel, at, playing) {
    var row = entryAt(panel, at);
    var previous = panel.querySelector("tr.entry.now");
    if (row === previous) return;
    if (previous) { previous.classList.remove("now"); previous.removeAttribute("aria-current"); }
    if (!row) return;
    row.classList.add("now");
    row.setAttribute("aria-current", "time");
    if (playing && following(panel)) scrollTo(panel, row);
  }

  // --- picking an entry: select it, seek the recording there, and make the URL a link to it ------
  function select(panel, row, fromLink) {
    var previous = panel.querySelector("tr.entry.selected");
    if (previous) previous.classList.remove("selected");
    row.classList.add("selected");
    var kind = panel.querySelector("[data-timeline-kind][value='" + row.dataset.kind + "']");
    if (kind && !kind.checked) { kind.checked = true; refilter(panel); }
    row.hidden = false;
    scrollTo(panel, row);
    seek(Number(row.dataset.seek || row.dataset.at)); // a failed step: the moment it failed
    if (!fromLink) {
      var url = new URL(location.href);
      url.searchParams.delete("t");
      url.searchParams.set("entry", row.id);
      history.replaceState(history.state, "", url.toString());
    }
  }
  function momentLink(panel) {
    var start = startedAt(panel), url = new URL(location.href);
    var selected = panel.querySelector("tr.entry.selected");
    var at = player.at !== null ? player.at : selected ? Number(selected.dataset.seek || selected.dataset.at) : null;
    url.searchParams.delete("entry");
    if (start && at !== null) url.searchParams.set("t", String(Math.max(0, Math.round(at - start))));
    return url.toString();
  }
  function openAtLink(panel) {
    var params = new URLSearchParams(location.search);
    var entry = params.get("entry") && document.getElementById(params.get("entry"));
    if (entry && entry.closest("#timeline-rows")) { select(panel, entry, true); return; }
    var t = Number(params.get("t")), start = startedAt(panel);
    if (params.get("t") !== null && isFinite(t) && start) {
      var row = entryAt(panel, start + t);
      if (row) { row.classList.add("selected"); scrollTo(panel, row); }
      seek(start + t);
    }
  }

  // --- the request drawer ------------------------------------------------------------------------
  var opener = null;
  function openRequest(panel, button) {
    var dialog = document.getElementById("request-drawer"), body = document.getElementById("request-drawer-body");
    if (!dialog || !body || !panel.dataset.requestUrl) return;
    opener = button;
    var seqs = (button.dataset.seqs || "").split(",").filter(Boolean).map(function (s) { return "seq=" + encodeURIComponent(s); });
    var url = panel.dataset.requestUrl + encodeURIComponent(button.dataset.request) + "/?" + seqs.join("&");
    body.innerHTML = "";
    var loading = document.createElement("p");
    loading.className = "muted";
    loading.textContent = "Loading the request…";
    body.appendChild(loading);
    if (!dialog.open) dialog.showModal();
    htmx.ajax("GET", url, { target: body, swap: "innerHTML" }).then(function () {
      var close = body.querySelector("[data-drawer-close]");
      if (close && dialog.open) close.focus();
    }, function () {
      loading.textContent = "The request's details could not be loaded: check the connection and try again.";
    });
  }

  // --- more events: the rows before or after what the timeline shows -----------------------------
  function more(panel, button) {
    var side = button.dataset.timelineMore;
    var seqs = rowsOf(panel).map(function (r) { return Number(r.dataset.seq); }).filter(function (n) { return n > 0; });
    if (!seqs.length) return;
    var edge = side === "before" ? Math.min.apply(null, seqs) : Math.max.apply(null, seqs);
    button.disabled = true;
    fetch(panel.dataset.timelineUrl + "?" + side + "=" + encodeURIComponent(edge), { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text().then(function (text) { return { text: text, more: response.headers.get("X-Timeline-More") }; });
      })
      .then(function (answer) {
        var template = document.createElement("template");
        template.innerHTML = "<table><tbody>" + answer.text + "</tbody></table>";
        var list = panel.querySelector("#timeline-rows"), first = list.firstElementChild;
        template.content.querySelectorAll("tr.entry").forEach(function (row) {
          if (document.getElementById(row.id)) return;
          if (side === "before") list.insertBefore(row, first); else list.appendChild(row);
          label(panel, row);
          htmx.process(row);
        });
        refilter(panel);
        if (answer.more === "1") button.disabled = false; else button.remove();
      })
      .catch(function () { button.disabled = false; window.bctrlToast && window.bctrlToast("Could not load more events; try again.", "error"); });
  }

  // --- wiring ------------------------------------------------------------------------------------
  function ready(panel) {
    rowsOf(panel).forEach(function (row) { label(panel, row); });
    refilter(panel);
    openAtLink(panel);
    if (!new URLSearchParams(location.search).has("entry")) followNewest(panel);
  }
  document.addEventListener("htmx:afterSettle", function (event) {
    var panel = timeline();
    if (panel && panel.dataset.timelineUrl && !panel.dataset.ready) { panel.dataset.ready = "1"; ready(panel); }
    // a new player (its token renewed): back to where the old one was
    if (event.target.id === "live-view" && findPlayer() && player.at !== null && player.pending === null) seek(player.at);
  });
  document.addEventListener("live:row", function (event) {
    if (event.detail.list.id !== "timeline-rows") return;
    var panel = timeline(), row = event.detail.row;
    var empty = panel.querySelector("[data-timeline-empty]");
    if (empty) empty.remove();
    label(panel, row);
    row.hidden = !shown(panel, row);
    var jump = panel.querySelector("[data-jump-failure]");
    if (jump && row.dataset.failure) { jump.disabled = false; jump.removeAttribute("title"); }
    followNewest(panel);
  });
  document.addEventListener("click", function (event) {
    var target = event.target, panel = timeline();
    if (!target.closest) return;
    if (target.closest("[data-drawer-close]")) { var dialog = target.closest("dialog"); if (dialog) dialog.close(); return; }
    if (!panel || !panel.contains(target)) return;
    var open = target.closest("[data-request]");
    if (open) { openRequest(panel, open); return; }
    var moreButton = target.closest("[data-timeline-more]");
    if (moreButton) { more(panel, moreButton); return; }
    if (target.closest("[data-jump-failure]")) {
      var failure = panel.querySelector("tr.entry[data-failure]");
      if (failure) { select(panel, failure); var pick = failure.querySelector("[data-pick]"); if (pick) pick.focus(); }
      return;
    }
    if (target.closest("[data-copy-moment]")) { copy(momentLink(panel)); return; }
    var row = target.closest("tr.entry");
    // the row's own button, or anywhere on the row that is not another control
    if (row && (target.closest("[data-pick]") || !target.closest("a, button, input, summary"))) select(panel, row);
  });
  function copy(text) {
    var done = function () { window.bctrlToast && window.bctrlToast("Link to this moment copied.", "success"); };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, function () { prompt(text); });
    else prompt(text);
    function prompt(value) { window.prompt("Copy this link to the moment:", value); }
  }
  document.addEventListener("change", function (event) {
    var panel = timeline();
    if (panel && panel.contains(event.target) && event.target.matches("[data-timeline-kind], [data-timeline-follow]")) {
      refilter(panel);
      followNewest(panel);
    }
  });
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("[data-timeline-search]")) refilter(timeline());
  });
  document.addEventListener("close", function (event) {
    if (event.target.id === "request-drawer" && opener) { opener.focus(); opener = null; }
  }, true);

  // --- bctrl:live-tab: the tab a live viewer shows, named on the wall's tile and the live view ----
  function liveTab(event, data) {
    var frames = document.querySelectorAll("iframe[data-thumbnail-src], iframe[data-live-frame]");
    for (var i = 0; i < frames.length; i += 1) {
      var frame = frames[i];
      if (frame.contentWindow !== event.source) continue;
      if (event.origin !== new URL(frame.getAttribute("src"), location.href).origin) return;
      var holder = frame.closest(".wall-tile, .live-view");
      var box = holder && holder.querySelector("[data-live-tab]");
      if (!box) return;
      var title = typeof data.title === "string" ? data.title.slice(0, 200) : "";
      var url = typeof data.url === "string" ? data.url.slice(0, 500) : "";
      box.textContent = title || url; // text only: a page's title is untrusted
      box.title = url;
      var address = holder.querySelector("[data-live-url]");
      if (address) address.textContent = title ? url : "";
      return;
    }
  }
})();
