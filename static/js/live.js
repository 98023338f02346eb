// Live parts of the console (dashboard/live): what the htmx ws extension cannot do alone.
// No inline scripts (CSP). Loaded after htmx and its ws extension.
(function () {
  "use strict";
  if (!window.htmx) return;

  // --- resuming: a socket that reconnects asks for what it missed -----------------------------
  // The last id seen per socket path: the updates' id for /ws/updates/, the runtime event
  // sequence for an inspector (an API without sequences resumes from the page's position, and
  // rows replace their like by id). htmx's ws extension reconnects by itself, through this.
  var lastSeen = {};
  htmx.createWebSocket = function (url) {
    var parsed = new URL(url, location.href);
    var seen = lastSeen[parsed.pathname];
    if (seen) { parsed.searchParams.set("after", seen); parsed.searchParams.delete("skip"); }
    return new WebSocket(parsed.toString(), []);
  };
  function remember(socketElt, seq) {
    var path = new URL(socketElt.getAttribute("ws-connect"), location.href).pathname;
    if (seq && (!lastSeen[path] || Number(seq) > Number(lastSeen[path]))) lastSeen[path] = String(seq);
  }

  // --- rows: table rows are placed here, not by htmx ------------------------------------------
  // A pushed row replaces the row of the same id wherever it is, or is inserted into its list
  // when the list shows rows like it (its filters) and is the list's first page. Other
  // elements go on to htmx's swap only if this page has their target: a page without a feed
  // does not log an error for each update.
  function fits(list, row) {
    var status = list.dataset.liveStatus, workspace = list.dataset.liveWorkspace;
    if (status && row.dataset.status !== status) return false;
    if (workspace && row.dataset.workspace !== workspace) return false;
    return true;
  }
  function placeRows(list, carrier, style, socketElt) {
    Array.prototype.slice.call(carrier.querySelectorAll("tr")).forEach(function (row) {
      var existing = row.id && document.getElementById(row.id);
      if (existing) {
        if (fits(list, row)) existing.replaceWith(row); else existing.remove();
      } else if (fits(list, row) && list.dataset.liveInsert !== "false") {
        if (style === "afterbegin") list.prepend(row); else list.append(row);
      } else {
        return;
      }
      if (row.dataset.seq) remember(socketElt, row.dataset.seq);
      var wrap = list.closest(".table-wrap");
      if (wrap && wrap.hidden) {
        wrap.hidden = false;
        var empty = wrap.parentElement.querySelector("[data-live-empty]");
        if (empty) empty.remove();
      }
      htmx.process(row);
      document.dispatchEvent(new CustomEvent("live:row", { detail: { list: list, row: row } }));
    });
  }
  htmx.defineExtension("live", {
    transformResponse: function (text, xhr, elt) {
      if (xhr || !elt || !elt.hasAttribute("ws-connect")) return text; // only websocket messages
      var kept = [], children = [];
      // A message's parts are parsed one by one: a <tr> after a <div> in one parse is dropped.
      text.split("<!--live-part-->").forEach(function (part) {
        var template = document.createElement("template");
        template.innerHTML = part;
        children = children.concat(Array.prototype.slice.call(template.content.children));
      });
      // Rows first: a row that leaves its list (a stopped runtime in a list of active ones) takes
      // the elements inside it along, and nothing may then be swapped into them.
      children.filter(function (child) { return child.tagName === "TBODY"; }).forEach(keep);
      children.filter(function (child) { return child.tagName !== "TBODY"; }).forEach(keep);
      return kept.join("");
      function keep(child) {
        var oob = child.getAttribute("hx-swap-oob") || "true";
        var colon = oob.indexOf(":");
        var selector = colon > 0 ? oob.slice(colon + 1) : "#" + CSS.escape(child.id);
        var target = child.id || colon > 0 ? document.querySelector(selector) : null;
        if (!target) return;
        if (child.tagName === "TBODY") { placeRows(target, child, oob.slice(0, colon), elt); return; }
        if (child.id === "live-cursor") remember(elt, child.dataset.seq);
        kept.push(child.outerHTML);
      }
    },
  });

  // --- signals: regions that reload themselves when their subject changes ---------------------
  // Every update moves #live-cursor; its family and subject become events on <body> that
  // regions listen for: hx-trigger="live:vault from:body", "live:runtime-<id> from:body".
  document.addEventListener("htmx:wsAfterMessage", function (event) {
    var cursor = document.getElementById("live-cursor");
    if (!cursor || !cursor.dataset.seq || cursor.dataset.signalled === cursor.dataset.seq) return;
    cursor.dataset.signalled = cursor.dataset.seq;
    var detail = { seq: cursor.dataset.seq, type: cursor.dataset.type, subject: cursor.dataset.subject };
    htmx.trigger(document.body, "live:" + cursor.dataset.family, detail);
    if (cursor.dataset.subject) htmx.trigger(document.body, "live:" + cursor.dataset.family + "-" + cursor.dataset.subject, detail);
    htmx.trigger(document.body, "live:" + cursor.dataset.type.replace(/\./g, "_"), detail); // live:runtime_started
  });
  // Control of the runtime's browser changed hands (#live-control arrived from the socket): a
  // page that held it renews its live view, which the engine has already made view-only.
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var view = document.getElementById("live-view");
    if (event.target.id !== "live-control" || !view || view.dataset.interactive !== "true") return;
    if ((event.target.dataset.holder || "") !== view.dataset.holder) htmx.trigger(view, "control-changed");
  });
  document.addEventListener("htmx:wsOpen", function (event) {
    event.target.dataset.liveState = "open";
    if (event.target.id === "live-socket") { document.body.dataset.live = "open"; connection.console(null); }
  });
  document.addEventListener("htmx:wsClose", function (event) {
    event.target.dataset.liveState = "closed";
    if (event.target.id !== "live-socket") return;
    document.body.dataset.live = "closed";
    // the ws extension reconnects after these codes (the console restarting, a dropped network)
    var code = event.detail.event && event.detail.event.code;
    if ([1006, 1011, 1012, 1013].indexOf(code) >= 0) connection.console(connection.consoleDown || new Date());
  });

  // --- the connection banner: the API (the relay's state) or the console cannot be reached ---
  // #live-connection is the relay's word (dashboard/live/relay.py `announce`, and the page's
  // render); a socket that closed abnormally is the console's. While either is down, the page
  // says so with since when, and statuses that may have changed meanwhile ([data-live-badge])
  // say "unknown"; when both are back, the banner goes and the statuses come back (the missed
  // updates follow: the relay and the socket both resume where they stopped).
  var connection = (function () {
    var state = { consoleDown: null, apiDown: null, reason: "", shown: false, timer: null };
    function clock(at) {  // as the page's |when shows moments: 24 h, in the user's time zone, named
      var options = { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short" };
      try { return at.toLocaleTimeString("en-GB", Object.assign({ timeZone: document.body.dataset.timeZone || undefined }, options)); }
      catch (error) { return at.toLocaleTimeString("en-GB", options); }  // a zone name the browser does not know
    }
    function ago(at) {
      var seconds = Math.max(0, Math.round((Date.now() - at.getTime()) / 1000));
      return seconds < 90 ? seconds + " s ago" : Math.round(seconds / 60) + " min ago";
    }
    function text() {
      if (state.consoleDown) {
        return "The console cannot be reached since " + clock(state.consoleDown) + " (" + ago(state.consoleDown) +
          "); reconnecting. What this page shows may be out of date.";
      }
      return "The API cannot be reached since " + clock(state.apiDown) + " (" + ago(state.apiDown) +
        "); the console is reconnecting. What this page shows may be out of date." + (state.reason ? " " + state.reason : "");
    }
    function markBadges(down) {
      document.querySelectorAll("[data-live-badge]").forEach(function (badge) {
        if (down && badge.dataset.known === undefined) {
          badge.dataset.known = badge.textContent;
          badge.textContent = badge.dataset.whileDown || "unknown";
          badge.classList.add("badge-unknown");
        } else if (!down && badge.dataset.known !== undefined) {
          badge.textContent = badge.dataset.known;
          delete badge.dataset.known;
          badge.classList.remove("badge-unknown");
        }
      });
    }
    function draw() {
      var banner = document.getElementById("connection-banner");
      var down = !!(state.consoleDown || state.apiDown);
      if (!down) {
        clearTimeout(state.timer);
        state.timer = null;
        state.shown = false;
        if (banner) { banner.hidden = true; banner.textContent = ""; }
        document.body.removeAttribute("data-connection");
        markBadges(false);
        return;
      }
      if (!state.shown) {
        // a blip (a stream the API ends and the relay resumes at once, a page being left) is not an outage
        if (!state.timer) state.timer = setTimeout(function () { state.timer = null; state.shown = true; draw(); }, 1000);
        return;
      }
      if (banner) { banner.hidden = false; banner.textContent = text(); }
      document.body.dataset.connection = state.consoleDown ? "console-down" : "api-down";
      markBadges(true);
    }
    function readRelay() {
      var marker = document.getElementById("live-connection");
      if (!marker) return;
      var down = marker.dataset.state === "down";
      state.apiDown = down ? new Date(marker.dataset.since || Date.now()) : null;
      state.reason = down ? marker.dataset.reason || "" : "";
      draw();
    }
    setInterval(function () { if (state.shown) draw(); }, 1000);  // "12 s ago" keeps counting
    document.addEventListener("DOMContentLoaded", readRelay);
    document.addEventListener("htmx:wsAfterMessage", readRelay);
    document.addEventListener("htmx:afterSettle", function () { if (state.shown) markBadges(true); });
    return {
      get consoleDown() { return state.consoleDown; },
      console: function (since) { state.consoleDown = since; draw(); },
    };
  })();

  // --- the feed: pause and filters (the run page's timeline is static/js/inspector.js) ---------
  function visible(panel, row) {
    var family = panel.querySelector("[data-feed-family][value='" + row.dataset.family + "']");
    return !family || family.checked;
  }
  function refilter(panel) {
    panel.querySelectorAll("tbody tr").forEach(function (row) {
      row.hidden = row.dataset.held === "1" || !visible(panel, row);
    });
  }
  function heldCount(panel) {
    var held = panel.querySelectorAll("tr[data-held='1']").length;
    var label = panel.querySelector("[data-feed-held]");
    if (label) label.textContent = held ? held + " new while paused" : "";
  }
  document.addEventListener("live:row", function (event) {
    var panel = event.detail.list.closest("#feed");
    if (!panel) return;
    var row = event.detail.row;
    var empty = panel.querySelector("[data-feed-empty]");
    if (empty) empty.remove();
    if (panel.dataset.paused === "true" && !row.dataset.seenBefore) { row.dataset.held = "1"; heldCount(panel); }
    row.hidden = row.dataset.held === "1" || !visible(panel, row);
  });
  document.addEventListener("click", function (event) {
    var pause = event.target.closest && event.target.closest("[data-feed-pause]");
    if (!pause) return;
    var panel = pause.closest("#feed");
    var paused = panel.dataset.paused !== "true";
    panel.dataset.paused = String(paused);
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume" : "Pause";
    if (!paused) {
      panel.querySelectorAll("tr[data-held='1']").forEach(function (row) { delete row.dataset.held; });
      refilter(panel);
      heldCount(panel);
    }
  });
  document.addEventListener("change", function (event) {
    var panel = event.target.closest && event.target.closest("#feed");
    if (panel && event.target.matches("[data-feed-family]")) refilter(panel);
  });

  // --- the wall: thumbnails load when seen and unload when scrolled away ---------------------
  // An iframe that leaves the screen is emptied: its viewer socket closes, and the engine stops
  // sampling that runtime's screen for it.
  function watchWall(root) {
    var tiles = root.querySelectorAll ? root.querySelectorAll("iframe[data-thumbnail-src]") : [];
    if (!tiles.length || !("IntersectionObserver" in window)) return;
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        var frame = entry.target;
        if (entry.isIntersecting) {
          if (frame.getAttribute("src") !== frame.dataset.thumbnailSrc) frame.setAttribute("src", frame.dataset.thumbnailSrc);
          frame.dataset.showing = "true";
        } else if (frame.dataset.showing === "true") {
          frame.setAttribute("src", "about:blank");
          frame.dataset.showing = "false";
        }
      });
    }, { rootMargin: "100px" });
    tiles.forEach(function (frame) { observer.observe(frame); });
  }
  document.addEventListener("DOMContentLoaded", function () { watchWall(document); });
  document.addEventListener("htmx:afterSettle", function (event) { watchWall(event.target); });
})();
