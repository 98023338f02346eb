// The recording player: one timeline for the whole runtime; at each moment it shows the last
// frame the chosen tab had painted by then. Frames are fetched one by one (and kept, and the
// next few fetched ahead while playing); marks on the timeline are navigations and step starts.
// While the runtime still runs (a `live` index) it plays what is recorded so far, asks for more
// every few seconds, and can follow the live edge.
//
// Its parent page (the console) drives it and follows it by postMessage, origin-checked against
// ENGINE_EMBED_FRAME_ANCESTORS: it accepts {type: "bctrl:seek", at} (epoch ms), "bctrl:play",
// "bctrl:pause" and {type: "bctrl:speed", rate} (a seek or play sent before the recording is
// loaded is kept and done once it is); it posts {type: "bctrl:recording-ready", runtimeId,
// startedAt, durationMs} once loaded, and {type: "bctrl:recording-time", runtimeId, at,
// offsetMs, playing} while playing (at most 4 a second) and on every seek, play and pause.
"use strict";

(() => {
  const body = document.body;
  const screen = new EmbedScreen();
  const playButton = document.getElementById("play");
  const scrubber = document.getElementById("scrubber");
  const marksBox = document.getElementById("marks");
  const timeLabel = document.getElementById("time");
  const speedSelect = document.getElementById("speed");
  const tabSelect = document.getElementById("tab");
  const liveButton = document.getElementById("live-edge");
  const base = location.pathname;
  const query = location.search; // carries the token
  const runtimeId = base.split("/").pop();
  const parentLink = new ParentLink(JSON.parse(body.dataset.ancestors || "[]"));
  const SPEEDS = new Set(["0.5", "1", "1.5", "2", "4"]);
  const KEEP_FRAMES = 120;
  const AHEAD = 3;
  const REFRESH_MS = 2000; // a live recording's index is asked for again this often
  const LIVE_LAG_MS = 1000; // the live edge trails "now" by this much: frames take a moment to land
  const POST_EVERY_MS = 250;

  let recording = null;
  let startedAt = 0; // epoch ms of the recording's time 0
  let fetchedAt = 0; // performance.now() when a live index was fetched
  let tab = null;
  let position = 0;
  let playing = false;
  let following = false; // at the live edge, moving with it
  let lastTick = 0;
  let lastPost = 0;
  let pendingSeek = null; // epoch ms the parent asked for before the recording was loaded
  let pendingPlay = false;
  let shownKey = null;
  let wantedKey = null;
  let loading = false;
  const frames = new Map(); // "tab/n" -> Promise<ImageBitmap>, oldest first
  const drawnMarks = new Set();

  const notice = (state, title, text) => showState(state, title, text, "ready");

  async function fetchIndex() {
    const response = await fetch(`${base}/index${query}`, { cache: "no-store" });
    return response.json();
  }

  async function load() {
    let index;
    try {
      index = await fetchIndex();
    } catch {
      notice("error", "The engine did not answer", "Trying again…");
      setTimeout(load, 3000);
      return;
    }
    if (index.status !== "ready" && index.status !== "encoding") {
      const expired = index.reason === "expired" || index.status === "expired";
      notice(expired ? "expired" : "invalid", expired ? "This link or recording has expired" : "This link is not valid",
        "Open the runtime again in the console.");
      return;
    }
    take(index);
    setUp();
  }

  function take(index) {
    recording = index;
    startedAt = Date.parse(index.startedAt);
    fetchedAt = performance.now();
    body.dataset.live = String(Boolean(index.live));
    body.dataset.startedAt = String(startedAt);
    liveButton.hidden = !index.live;
  }

  // How far the recording reaches now: while live it grows with the clock between two indexes.
  function duration() {
    if (!recording) return 0;
    if (!recording.live) return recording.durationMs;
    return recording.durationMs + (performance.now() - fetchedAt);
  }

  function liveEdge() {
    return Math.max(0, duration() - LIVE_LAG_MS);
  }

  function setUp() {
    scrubber.disabled = false;
    playButton.disabled = false;
    renderTabs();
    renderMarks();
    if (!tab) {
      notice("empty", recording.live ? "Nothing recorded yet" : "Nothing was recorded",
        recording.live ? "The recording starts with the page's first picture." : "The browser never painted a picture while the runtime ran.");
      if (recording.live) setTimeout(refresh, REFRESH_MS);
      return;
    }
    if (recording.live) setTimeout(refresh, REFRESH_MS);
    becomeReady();
  }

  // The first picture is there: tell the parent, and do what it asked for meanwhile.
  function becomeReady() {
    notice("ready", "", "");
    parentLink.post({ type: "bctrl:recording-ready", runtimeId, startedAt, durationMs: Math.round(duration()) });
    seek(pendingSeek === null ? firstPicture() : pendingSeek - startedAt);
    pendingSeek = null;
    if (pendingPlay) play();
  }

  // Where a player opens: the chosen tab's first picture (the recording starts before the page paints).
  function firstPicture() {
    return tab && tab.times.length ? tab.times[0] : 0;
  }

  function renderTabs() {
    const chosen = tab ? tab.id : null;
    tabSelect.replaceChildren(
      ...recording.tabs.map((entry, number) => {
        const option = document.createElement("option");
        option.value = entry.id;
        option.textContent = `Tab ${number + 1}${entry.url ? `: ${entry.url}` : ""}`;
        return option;
      }),
    );
    tab = recording.tabs.find((entry) => entry.id === chosen) || recording.tabs[0] || null;
    if (tab) tabSelect.value = tab.id;
    tabSelect.disabled = recording.tabs.length < 2;
    body.dataset.tabs = String(recording.tabs.length);
  }

  function renderMarks() {
    for (const mark of recording.marks) {
      const key = `${mark.type}/${mark.t}/${mark.label}`;
      if (drawnMarks.has(key)) continue;
      drawnMarks.add(key);
      const dot = document.createElement("span");
      dot.className = `mark ${mark.type}`;
      dot.dataset.t = String(mark.t);
      dot.title = `${mark.type === "navigation" ? "Navigated to" : "Step"} ${mark.label}`;
      dot.addEventListener("click", () => seek(mark.t));
      marksBox.append(dot);
    }
    placeMarks();
  }

  function placeMarks() {
    const span = Math.max(1, duration());
    for (const dot of marksBox.children) dot.style.left = `${(100 * Number(dot.dataset.t)) / span}%`;
  }

  // A live recording: ask what was recorded since, keep the same tab and place.
  async function refresh() {
    let index;
    try {
      index = await fetchIndex();
    } catch {
      setTimeout(refresh, REFRESH_MS * 2);
      return;
    }
    if (index.status !== "ready" && index.status !== "encoding") return; // expired meanwhile: keep what is shown
    const hadTab = Boolean(tab);
    take(index);
    renderTabs();
    renderMarks();
    if (!hadTab && tab) becomeReady();
    shownKey = null;
    showRange(); // paused too: what was recorded since can be scrubbed to
    show();
    if (index.live) setTimeout(refresh, REFRESH_MS);
    else if (following) following = false;
  }

  // The last frame painted at or before `t` (binary search), or -1 before the first one.
  function frameAt(times, t) {
    let low = 0;
    let high = times.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (times[middle] <= t) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  function fetchFrame(number) {
    const key = `${tab.id}/${number}`;
    if (!frames.has(key)) {
      frames.set(
        key,
        fetch(`${base}/frames/${tab.id}/${number}${query}`)
          .then((response) => (response.ok ? response.blob() : Promise.reject(new Error(String(response.status)))))
          .then((blob) => createImageBitmap(blob)),
      );
      if (frames.size > KEEP_FRAMES) frames.delete(frames.keys().next().value);
    }
    return frames.get(key);
  }

  async function show() {
    if (!tab) return;
    const number = frameAt(tab.times, position);
    wantedKey = `${tab.id}/${number}`;
    if (loading || wantedKey === shownKey) return;
    loading = true;
    try {
      while (wantedKey !== shownKey) {
        const key = wantedKey;
        const frameNumber = Number(key.split("/")[1]);
        if (frameNumber < 0) {
          screen.clear();
        } else {
          let bitmap;
          try {
            bitmap = await fetchFrame(frameNumber);
          } catch {
            frames.delete(key);
            break;
          }
          screen.draw(bitmap);
          if (playing) for (let i = 1; i <= AHEAD && frameNumber + i < tab.times.length; i++) fetchFrame(frameNumber + i);
        }
        shownKey = key;
        body.dataset.shownFrame = String(frameNumber);
        body.dataset.shownAt = String(frameNumber < 0 ? -1 : tab.times[frameNumber]);
      }
    } finally {
      loading = false;
    }
  }

  function seek(t, { quiet = false } = {}) {
    const end = recording.live ? liveEdge() : duration();
    position = Math.min(Math.max(0, t), end);
    showRange();
    body.dataset.position = String(Math.round(position));
    show();
    if (!quiet) post();
  }

  // The scrubber's reach and the time label, for the recording as far as it is known now.
  function showRange() {
    scrubber.max = String(Math.round(duration()));
    scrubber.value = String(Math.round(position));
    label();
  }

  // Tell the parent where the player is: on every seek, play and pause; while playing, 4 a second.
  function post(force = true) {
    const now = performance.now();
    if (!force && now - lastPost < POST_EVERY_MS) return;
    lastPost = now;
    parentLink.post({
      type: "bctrl:recording-time",
      runtimeId,
      at: Math.round(startedAt + position),
      offsetMs: Math.round(position),
      playing,
    });
  }

  const clock = (ms) => {
    const seconds = Math.floor(ms / 1000);
    return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  };
  function label() {
    timeLabel.textContent = `${clock(position)} / ${clock(duration())}${recording.live ? " (recording)" : ""}`;
  }

  function tick(now) {
    if (!playing) return;
    const elapsed = now - lastTick;
    lastTick = now;
    if (following) {
      seek(liveEdge(), { quiet: true });
    } else {
      seek(position + elapsed * Number(speedSelect.value), { quiet: true });
      if (recording.live && position >= liveEdge()) following = true; // caught up: stay at the edge
    }
    post(false);
    if (!recording.live && position >= duration()) {
      pause();
      return;
    }
    placeMarks();
    requestAnimationFrame(tick);
  }

  function play() {
    if (!recording || !tab) return;
    if (!recording.live && position >= duration()) seek(0, { quiet: true });
    playing = true;
    body.dataset.playing = "true";
    playButton.textContent = "Pause";
    lastTick = performance.now();
    post();
    requestAnimationFrame(tick);
  }

  function pause() {
    playing = false;
    following = false;
    body.dataset.playing = "false";
    playButton.textContent = "Play";
    if (recording) post();
  }

  function setSpeed(rate) {
    if (!SPEEDS.has(String(rate))) return;
    speedSelect.value = String(rate);
    body.dataset.speed = speedSelect.value;
  }

  playButton.addEventListener("click", () => (playing ? pause() : play()));
  scrubber.addEventListener("input", () => {
    following = false;
    seek(Number(scrubber.value));
  });
  speedSelect.addEventListener("change", () => setSpeed(speedSelect.value));
  liveButton.addEventListener("click", () => {
    following = true;
    seek(liveEdge());
    if (!playing) play();
  });
  tabSelect.addEventListener("change", () => {
    tab = recording.tabs.find((entry) => entry.id === tabSelect.value) || tab;
    shownKey = null;
    show();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === " " && recording && event.target === body) {
      event.preventDefault();
      playing ? pause() : play();
    }
  });

  parentLink.listen((message) => {
    const ready = Boolean(recording && tab);
    switch (message.type) {
      case "bctrl:seek": {
        const at = Number(message.at);
        if (!Number.isFinite(at)) return;
        following = false;
        if (ready) seek(at - startedAt);
        else pendingSeek = at; // done once the recording is loaded
        break;
      }
      case "bctrl:play":
        if (!ready) pendingPlay = true;
        else if (!playing) play();
        break;
      case "bctrl:pause":
        pendingPlay = false;
        if (playing) pause();
        break;
      case "bctrl:speed":
        setSpeed(message.rate);
        break;
    }
  });

  body.dataset.speed = speedSelect.value;
  load();
})();
