// What the viewer and the player share: a canvas showing pictures at their own proportions,
// as large as the stage allows, and the overlay that says what state the page is in.
"use strict";

class EmbedScreen {
  constructor() {
    this.stage = document.getElementById("stage");
    this.canvas = document.getElementById("screen");
    this.context = this.canvas.getContext("2d");
    new ResizeObserver(() => this.fit()).observe(this.stage);
  }

  draw(bitmap) {
    if (this.canvas.width !== bitmap.width || this.canvas.height !== bitmap.height) {
      this.canvas.width = bitmap.width;
      this.canvas.height = bitmap.height;
      this.fit();
    }
    this.context.drawImage(bitmap, 0, 0);
  }

  clear() {
    this.context.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  fit() {
    const { canvas, stage } = this;
    if (!canvas.width) return;
    const scale = Math.min(stage.clientWidth / canvas.width, stage.clientHeight / canvas.height);
    canvas.style.width = `${Math.floor(canvas.width * scale)}px`;
    canvas.style.height = `${Math.floor(canvas.height * scale)}px`;
  }
}

// The page's state (body[data-state], which tests read too) and the overlay that explains it;
// the overlay hides for `visibleState` (the picture is all there is to see).
function showState(name, title, text, visibleState) {
  document.body.dataset.state = name;
  document.getElementById("overlay").hidden = name === visibleState;
  if (title) document.getElementById("overlay-title").textContent = title;
  document.getElementById("overlay-text").textContent = text || "";
}

// The page that frames this one (the console), talked to by postMessage. Its origin must be one
// that ENGINE_EMBED_FRAME_ANCESTORS allows (the CSP sources rendered into body[data-ancestors]);
// messages are posted to that origin only, and taken only from the parent window at that origin.
// The origin is known from location.ancestorOrigins where the browser has it, else from the
// parent's first message.
class ParentLink {
  constructor(ancestors) {
    this.ancestors = ancestors;
    this.parent = window.parent !== window ? window.parent : null;
    this.origin = null;
    const known = location.ancestorOrigins && location.ancestorOrigins.length ? location.ancestorOrigins[0] : null;
    if (known && this.allows(known)) this.origin = known;
  }

  allows(origin) {
    let url;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    return this.ancestors.some((source) => ParentLink.matches(source.trim(), url));
  }

  // One CSP source expression against an origin: 'self', a scheme ("https:"), or
  // [scheme://]host[:port] with "*." host and "*" port wildcards.
  static matches(source, url) {
    if (source === "'self'") return url.origin === location.origin;
    if (source === "*") return true;
    if (/^[a-z][a-z0-9+.-]*:$/i.test(source)) return url.protocol === source.toLowerCase();
    const parts = /^(?:([a-z][a-z0-9+.-]*):\/\/)?(\*|\*\.[^:/]+|[^:/*]+)(?::(\*|\d+))?\/?$/i.exec(source);
    if (!parts) return false;
    const [, scheme, host, port] = parts;
    if (scheme ? url.protocol !== `${scheme.toLowerCase()}:` : !["http:", "https:"].includes(url.protocol)) return false;
    const hostname = url.hostname.toLowerCase();
    const wanted = host.toLowerCase();
    if (wanted === "*") {
      // any host
    } else if (wanted.startsWith("*.")) {
      if (!hostname.endsWith(wanted.slice(1))) return false;
    } else if (hostname !== wanted) {
      return false;
    }
    const actualPort = url.port || (url.protocol === "https:" ? "443" : "80");
    if (port === "*") return true;
    return actualPort === (port || (url.protocol === "https:" ? "443" : "80"));
  }

  post(message) {
    if (this.parent && this.origin) this.parent.postMessage(message, this.origin);
  }

  listen(handler) {
    window.addEventListener("message", (event) => {
      if (!this.parent || event.source !== this.parent || !this.allows(event.origin)) return;
      if (!this.origin) this.origin = event.origin;
      if (event.origin !== this.origin) return;
      const data = event.data;
      if (data && typeof data === "object" && typeof data.type === "string") handler(data);
    });
  }
}
