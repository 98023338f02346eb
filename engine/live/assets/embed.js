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
