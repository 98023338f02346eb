// The recording player: one timeline for the whole runtime; at each moment it shows the last
// frame the chosen tab had painted by then. Frames are fetched one by one (and kept, and the
// next few fetched ahead while playing); marks on the timeline are navigations and step starts.
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
  const base = location.pathname;
  const query = location.search; // carries the token
  const KEEP_FRAMES = 120;
  const AHEAD = 3;

  let recording = null;
  let tab = null;
  let position = 0;
  let playing = false;
  let lastTick = 0;
  let shownKey = null;
  let wantedKey = null;
  let loading = false;
  const frames = new Map(); // "tab/n" -> Promise<ImageBitmap>, oldest first

  const notice = (state, title, text) => showState(state, title, text, "ready");

  async function load() {
    let response;
    try {
      response = await fetch(`${base}/index${query}`, { cache: "no-store" });
    } catch {
      notice("error", "The engine did not answer", "Trying again…");
      setTimeout(load, 3000);
      return;
    }
    const index = await response.json();
    if (index.status === "encoding") {
      notice("encoding", "Finishing the recording…", "It can be played once the runtime has stopped.");
      setTimeout(load, 1500);
      return;
    }
    if (index.status !== "ready") {
      const expired = index.reason === "expired" || index.status === "expired";
      notice(expired ? "expired" : "invalid", expired ? "This link or recording has expired" : "This link is not valid",
        "Open the runtime again in the console.");
      return;
    }
    recording = index;
    setUp();
  }

  function setUp() {
    scrubber.max = String(recording.durationMs);
    scrubber.disabled = false;
    playButton.disabled = false;
    tabSelect.replaceChildren(
      ...recording.tabs.map((entry, number) => {
        const option = document.createElement("option");
        option.value = entry.id;
        option.textContent = `Tab ${number + 1}${entry.url ? `: ${entry.url}` : ""}`;
        return option;
      }),
    );
    tabSelect.disabled = recording.tabs.length < 2;
    tab = recording.tabs[0] || null;
    for (const mark of recording.marks) {
      const dot = document.createElement("span");
      dot.className = `mark ${mark.type}`;
      dot.style.left = `${(100 * mark.t) / Math.max(1, recording.durationMs)}%`;
      dot.title = `${mark.type === "navigation" ? "Navigated to" : "Step"} ${mark.label}`;
      dot.addEventListener("click", () => seek(mark.t));
      marksBox.append(dot);
    }
    if (!tab) {
      notice("empty", "Nothing was recorded", "The browser never painted a picture while the runtime ran.");
      return;
    }
    notice("ready", "", "");
    seek(0);
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
        const [, n] = key.split("/");
        const frameNumber = Number(n);
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

  function seek(t) {
    position = Math.min(Math.max(0, t), recording.durationMs);
    scrubber.value = String(Math.round(position));
    body.dataset.position = String(Math.round(position));
    label();
    show();
  }

  const clock = (ms) => {
    const seconds = Math.floor(ms / 1000);
    return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  };
  function label() {
    timeLabel.textContent = `${clock(position)} / ${clock(recording.durationMs)}`;
  }

  function tick(now) {
    if (!playing) return;
    const elapsed = now - lastTick;
    lastTick = now;
    seek(position + elapsed * Number(speedSelect.value));
    if (position >= recording.durationMs) {
      pause();
      return;
    }
    requestAnimationFrame(tick);
  }

  function play() {
    if (position >= recording.durationMs) seek(0);
    playing = true;
    playButton.textContent = "Pause";
    lastTick = performance.now();
    requestAnimationFrame(tick);
  }

  function pause() {
    playing = false;
    playButton.textContent = "Play";
  }

  playButton.addEventListener("click", () => (playing ? pause() : play()));
  scrubber.addEventListener("input", () => seek(Number(scrubber.value)));
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

  load();
})();
