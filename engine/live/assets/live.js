// The live viewer: frames of the runtime's shown tab from the engine's websocket, drawn on a
// canvas; with an interactive token, the mouse, wheel, keyboard and paste go back as positions
// relative to the picture (0..1), so they land right whatever the size of this frame.
// "Follow the active tab" asks the engine to show the tab the automation uses; Fullscreen fills
// the screen with this page (the parent's iframe must allow="fullscreen"). The parent (the
// console) is told which tab is shown by postMessage, origin-checked (embed.js, ParentLink):
// {type: "bctrl:live-tab", runtimeId, pageId, url, title} whenever it or its address or title changes.
"use strict";

(() => {
  const body = document.body;
  const interactive = body.dataset.interactive === "true";
  const screen = new EmbedScreen();
  const canvas = screen.canvas;
  const fpsLabel = document.getElementById("fps");
  const ageLabel = document.getElementById("age");
  const viewersLabel = document.getElementById("viewers");
  const tabStrip = document.getElementById("tabs");
  const urlInput = document.getElementById("url");
  const followBox = document.getElementById("follow");
  const fullscreenButton = document.getElementById("fullscreen");
  const runtimeId = location.pathname.split("/").pop();
  const parentLink = new ParentLink(JSON.parse(body.dataset.ancestors || "[]"));
  const followByDefault = body.dataset.viewerMode === "automation";
  let toldParent = "";
  const accessLabel = document.getElementById("access");
  const BUTTONS = ["left", "middle", "right", "back", "forward"];
  const FINAL = new Set(["ended", "expired", "invalid"]);

  let socket = null;
  let shown = null; // header of the frame on screen: {seq, tabId, ts, w, h}
  let pending = null; // newest frame not drawn yet (older ones are skipped)
  let drawing = false;
  let frameTimes = [];
  let framesShown = 0;
  let retryDelay = 500;
  let control = false; // whether this viewer holds control now: the engine says (a "control" message)
  let lastTabs = null;

  const state = (name, title, text) => showState(name, title, text, "live");

  function socketUrl() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}${location.pathname}/ws${location.search}`;
  }

  function connect() {
    socket = new WebSocket(socketUrl());
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => {
      if (typeof event.data === "string") onMessage(JSON.parse(event.data));
      else onFrame(event.data);
    };
    socket.onclose = () => {
      if (FINAL.has(body.dataset.state)) return;
      state("reconnecting", "Connection lost", "Trying again…");
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    };
  }

  function onMessage(message) {
    switch (message.type) {
      case "hello":
        retryDelay = 500;
        // A new socket starts from the token's viewerMode: say again what the toggle says.
        if (followBox.checked !== followByDefault) sendRaw({ type: "follow", on: followBox.checked });
        if (!shown) state("waiting", "Connected", "Waiting for the first picture of the page…");
        break;
      case "tabs":
        lastTabs = message;
        renderTabs(message);
        break;
      case "control":
        setControl(message);
        break;
      case "screencast":
        body.dataset.screencastStarts = message.starts;
        body.dataset.screencastStops = message.stops;
        body.dataset.viewers = message.viewers;
        viewersLabel.textContent = message.viewers === 1 ? "1 viewer" : `${message.viewers} viewers`;
        break;
      case "ended":
        state(
          "ended",
          message.status === "failed" ? "The runtime failed" : "The runtime has stopped",
          message.message || "Its live view ended with it.",
        );
        break;
      case "refused":
        if (message.reason === "expired") {
          state("expired", "This link has expired", "Open the runtime again in the console for a new one.");
        } else {
          state("invalid", "This link is not valid", "Open the runtime in the console for a new one.");
        }
        break;
    }
  }

  function onFrame(buffer) {
    const headerLength = new DataView(buffer).getUint32(0);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, headerLength)));
    pending = { header, blob: new Blob([new Uint8Array(buffer, 4 + headerLength)], { type: "image/jpeg" }) };
    if (!drawing) draw();
  }

  async function draw() {
    drawing = true;
    while (pending) {
      const { header, blob } = pending;
      pending = null;
      let bitmap;
      try {
        bitmap = await createImageBitmap(blob);
      } catch {
        continue;
      }
      screen.draw(bitmap);
      bitmap.close();
      shown = header;
      framesShown += 1;
      frameTimes.push(performance.now());
      body.dataset.frames = framesShown;
      body.dataset.shownTab = header.tabId;
      if (!FINAL.has(body.dataset.state)) state("live");
    }
    drawing = false;
  }

  setInterval(() => {
    const now = performance.now();
    frameTimes = frameTimes.filter((t) => now - t <= 1000);
    fpsLabel.textContent = `${frameTimes.length} fps`;
    if (shown) {
      // Age of the picture on screen: since the browser painted it (a page that does not
      // repaint keeps its last picture, and this says how old it is).
      const age = Math.max(0, Date.now() - shown.ts);
      ageLabel.textContent = age < 1000 ? `frame ${Math.round(age)} ms old` : `frame ${(age / 1000).toFixed(1)} s old`;
    }
  }, 250);

  // Only the controller sends input, navigates or picks the shown tab; anyone else watches, and
  // sees who has control (someone taking over switches this viewer to view-only at once).
  function setControl(message) {
    control = interactive && message.interactive;
    body.dataset.control = String(control);
    for (const id of ["back", "forward", "reload"]) document.getElementById(id).disabled = !control;
    urlInput.readOnly = !control;
    if (control) accessLabel.textContent = "Interactive: your mouse and keyboard reach the browser (Esc, then Tab, leaves the view)";
    else if (message.holder) accessLabel.textContent = `View only: ${message.holder} has control`;
    else accessLabel.textContent = interactive ? "View only: nobody has control" : "View only";
    if (lastTabs) renderTabs(lastTabs);
  }

  function renderTabs(message) {
    tabStrip.replaceChildren(
      ...message.tabs.map((tab) => {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = tab.title || tab.url || "New tab";
        button.title = tab.url;
        button.dataset.tabId = tab.id;
        button.setAttribute("aria-current", String(tab.id === message.shownTabId));
        button.disabled = !control;
        button.addEventListener("click", () => sendRaw({ type: "tab", tabId: tab.id }));
        return button;
      }),
    );
    const current = message.tabs.find((tab) => tab.id === message.shownTabId);
    if (current && document.activeElement !== urlInput) urlInput.value = current.url;
    body.dataset.shownTabId = message.shownTabId || "";
    body.dataset.automationTabId = message.automationTabId || "";
    if (current) tellParent(current);
  }

  function tellParent(tab) {
    const told = JSON.stringify([tab.id, tab.url, tab.title]);
    if (told === toldParent) return;
    toldParent = told;
    parentLink.post({ type: "bctrl:live-tab", runtimeId, pageId: tab.id, url: tab.url, title: tab.title });
  }

  followBox.addEventListener("change", () => sendRaw({ type: "follow", on: followBox.checked }));

  function showFullscreen() {
    const on = document.fullscreenElement !== null;
    fullscreenButton.textContent = on ? "Exit fullscreen" : "Fullscreen";
    fullscreenButton.setAttribute("aria-pressed", String(on));
    body.dataset.fullscreen = String(on);
  }
  if (!document.fullscreenEnabled) {
    fullscreenButton.disabled = true;
    fullscreenButton.title = "The page showing this view does not allow fullscreen";
  }
  fullscreenButton.addEventListener("click", () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else document.documentElement.requestFullscreen().catch(() => {});
  });
  document.addEventListener("fullscreenchange", showFullscreen);
  parentLink.listen(() => {}); // a parent's first message tells its origin where the browser does not

  function sendRaw(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  // Input is only sent while this viewer holds control (the engine ignores it otherwise).
  function send(message) {
    if (!control || !shown) return;
    message.tabId = shown.tabId;
    sendRaw(message);
  }

  if (!interactive) {
    connect();
    return;
  }

  const fraction = (value) => Math.min(1, Math.max(0, value));
  function position(event) {
    const box = canvas.getBoundingClientRect();
    return { x: fraction((event.clientX - box.left) / box.width), y: fraction((event.clientY - box.top) / box.height) };
  }
  function modifiers(event) {
    return (event.altKey ? 1 : 0) | (event.ctrlKey ? 2 : 0) | (event.metaKey ? 4 : 0) | (event.shiftKey ? 8 : 0);
  }
  function mouse(action, event) {
    send({
      type: "mouse",
      action,
      ...position(event),
      button: action === "move" ? BUTTONS[pressed] || "none" : BUTTONS[event.button] || "none",
      buttons: event.buttons,
      clickCount: action === "move" ? 0 : Math.min(3, Math.max(1, event.detail || 1)),
      modifiers: modifiers(event),
    });
  }

  let pressed = -1;
  let moved = null;
  canvas.addEventListener("mousedown", (event) => {
    event.preventDefault();
    // preventScroll: a picture partly off screen must not scroll the host page between press and release
    canvas.focus({ preventScroll: true });
    pressed = event.button;
    mouse("down", event);
  });
  // Released anywhere (a drag may leave the picture): the page must still see the button go up.
  window.addEventListener("mouseup", (event) => {
    if (pressed < 0) return;
    pressed = -1;
    mouse("up", event);
  });
  // At most one move per animation frame: enough for hovering and dragging, no flood.
  window.addEventListener("mousemove", (event) => {
    if (event.target !== canvas && pressed < 0) return;
    if (!moved) requestAnimationFrame(() => {
      mouse("move", moved);
      moved = null;
    });
    moved = event;
  });
  canvas.addEventListener("contextmenu", (event) => event.preventDefault());
  canvas.addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      const unit = event.deltaMode === 1 ? 40 : event.deltaMode === 2 ? canvas.clientHeight : 1;
      send({ type: "wheel", ...position(event), dx: event.deltaX * unit, dy: event.deltaY * unit, modifiers: modifiers(event) });
    },
    { passive: false },
  );

  const isPaste = (event) => (event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "v";
  // No keyboard trap: without control the keys stay this page's (Tab moves on; the engine would
  // ignore them anyway); with control they go to the browser, and Escape then Tab leaves the view
  // (the Escape still reaches the browser; the Tab does not).
  let escaped = false;
  function key(action, event) {
    if (isPaste(event)) return; // the paste event below sends the clipboard's text instead
    if (!control) return;
    if (event.key === "Tab" && escaped) return;
    if (action === "down") escaped = event.key === "Escape";
    event.preventDefault();
    send({
      type: "key",
      action,
      key: event.key,
      code: event.code,
      keyCode: event.keyCode,
      modifiers: modifiers(event),
      repeat: event.repeat,
    });
  }
  canvas.addEventListener("keydown", (event) => key("down", event));
  canvas.addEventListener("keyup", (event) => key("up", event));
  document.addEventListener("paste", (event) => {
    if (document.activeElement !== canvas) return;
    event.preventDefault();
    const text = event.clipboardData ? event.clipboardData.getData("text/plain") : "";
    if (text) send({ type: "paste", text });
  });

  document.getElementById("back").addEventListener("click", () => send({ type: "navigate", action: "back" }));
  document.getElementById("forward").addEventListener("click", () => send({ type: "navigate", action: "forward" }));
  document.getElementById("reload").addEventListener("click", () => send({ type: "navigate", action: "reload" }));
  document.getElementById("go").addEventListener("submit", (event) => {
    event.preventDefault();
    let url = urlInput.value.trim();
    if (!url) return;
    if (!/^https?:\/\//i.test(url)) url = `https://${url}`;
    send({ type: "navigate", action: "go", url });
    canvas.focus({ preventScroll: true });
  });

  connect();
})();
