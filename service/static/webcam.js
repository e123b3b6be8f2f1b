// The webcam buttons: start/stop the camera, take a snapshot, and live mode's request loop.

import { ApiError, predict } from "./api.js";
import { Camera, cameraUnavailableReason } from "./camera.js";

const LIVE_INTERVAL_MS = 300; // at most ~3 frames per second, and never two requests in flight

/**
 * ui: {cameraToggle, snapshot, liveToggle, video, cameraHint}.
 * page: {analyse(blob, name), showFrame(blob, result), showError(error), clearError(),
 *        setStatus(text), requestOptions() -> {apiKey, detect}, cancelPending()}.
 */
export class WebcamControls {
  constructor(ui, page) {
    this.ui = ui;
    this.page = page;
    this.camera = new Camera(ui.video);
    this.live = false;
    this.run = 0; // bumped on every start/stop, so an old loop notices it is obsolete
    ui.cameraToggle.addEventListener("click", () => this.toggleCamera());
    ui.snapshot.addEventListener("click", () => this.snapshot());
    ui.liveToggle.addEventListener("click", () => this.setLive(!this.live));
    document.addEventListener("visibilitychange", () => {
      if (document.hidden && this.live) this.setLive(false); // no frames from a tab nobody looks at
    });
    const reason = cameraUnavailableReason();
    if (reason) {
      ui.cameraToggle.disabled = true;
      ui.cameraHint.textContent = reason;
    }
  }

  async toggleCamera() {
    const { ui, page } = this;
    if (this.camera.active) {
      this.setLive(false);
      this.camera.stop();
      ui.video.hidden = true;
      ui.cameraToggle.textContent = "Start camera";
      ui.snapshot.disabled = ui.liveToggle.disabled = true;
      page.setStatus("Camera stopped.");
      return;
    }
    page.clearError();
    page.setStatus("Starting the camera…");
    try {
      await this.camera.start();
    } catch (error) {
      page.setStatus("The camera is not available.");
      page.showError(new ApiError(error.message, { code: "camera_unavailable" }));
      return;
    }
    ui.video.hidden = false;
    ui.cameraToggle.textContent = "Stop camera";
    ui.snapshot.disabled = ui.liveToggle.disabled = false;
    page.setStatus("Camera on. Take a snapshot or start live mode.");
  }

  async snapshot() {
    try {
      this.page.analyse(await this.camera.frame(0.9), "snapshot.jpg");
    } catch (error) {
      this.page.showError(new ApiError(error.message, { code: "camera_frame" }));
    }
  }

  /** The toggle keeps its name; aria-pressed says whether live mode is on. */
  setLive(on) {
    const { ui, page } = this;
    this.live = on;
    this.run += 1;
    ui.liveToggle.setAttribute("aria-pressed", String(on));
    ui.snapshot.disabled = on || !this.camera.active;
    if (on) {
      page.cancelPending();
      page.clearError();
      page.setStatus("Live mode is on: the result updates a few times per second.");
      this.loop(this.run);
    } else if (this.camera.active) {
      page.setStatus("Live mode is off.");
    }
  }

  /** Grab a frame, wait for its answer, pause, repeat; backs off on 429/503, stops on 401. */
  async loop(run) {
    const current = () => this.live && run === this.run;
    while (current()) {
      const started = performance.now();
      let pause = LIVE_INTERVAL_MS;
      try {
        const blob = await this.camera.frame(0.7);
        const result = await predict(blob, { ...this.page.requestOptions(), filename: "frame.jpg" });
        if (!current()) return;
        await this.page.showFrame(blob, result);
      } catch (error) {
        if (!current()) return;
        this.page.showError(error instanceof ApiError ? error : new ApiError(error.message));
        if (error.status === 401 || error.status === 403 || !this.camera.active) return this.setLive(false);
        pause = error.retryAfter ? error.retryAfter * 1000 : 2000;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, pause - (performance.now() - started))));
    }
  }
}
